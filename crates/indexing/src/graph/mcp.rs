//! `worker-host mcp`: a Model Context Protocol server on stdio (the official Rust SDK, `rmcp`)
//! whose tools are the `graph` command's questions, so a coding agent can ask the code graph.
//! Each tool's arguments have a JSON schema; its result is the same JSON as `graph … --json`.
//! Read-only. The store opens on the first call, so a store that is down gives that call a
//! protocol error instead of stopping the server.

use std::path::PathBuf;
use std::sync::Arc;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::sync::OnceCell;

use super::command::{CallQuestion, DEFAULT_LIMIT, Question, ask, open};
use super::query::QueryError;
use super::{GraphSettings, GraphStore};

/// Arguments of `repos` and `stats`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RepoArgs {
    /// Only this repository (its id, as `repos` lists it).
    pub repo: Option<String>,
}

/// Arguments of `find`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct FindArgs {
    /// A definition's name (`join`) or a qualified tail (`Popen.wait`).
    pub name: String,
    /// Only this repository.
    pub repo: Option<String>,
    /// Return at most this many definitions (default 200).
    pub limit: Option<usize>,
}

/// Arguments of `callers` and `callees`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CallArgs {
    /// A qualified name (`pkg/mod.py::Class.method`), a name, or an external name
    /// (`os.path.join`).
    pub symbol: String,
    /// Only this repository.
    pub repo: Option<String>,
    /// Follow calls this many steps (default 1: direct calls only).
    pub depth: Option<u32>,
    /// Return at most this many calls (default 200).
    pub limit: Option<usize>,
}

impl CallArgs {
    /// The repository and the question.
    fn split(self) -> (Option<String>, CallQuestion) {
        let call = CallQuestion {
            symbol: self.symbol,
            depth: self.depth.unwrap_or(1),
            limit: self.limit.unwrap_or(DEFAULT_LIMIT),
        };
        (self.repo, call)
    }
}

/// Arguments of `file`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct FileArgs {
    /// The file's path from the repository's root.
    pub path: String,
    /// Only this repository.
    pub repo: Option<String>,
}

/// The server: the store's settings and the store once opened (the tools are the
/// `#[tool_router]` methods below).
#[derive(Clone)]
pub struct GraphServer {
    settings: GraphSettings,
    data_dir: PathBuf,
    store: Arc<OnceCell<GraphStore>>,
}

/// Serves the tools on stdin/stdout until the client closes them.
pub async fn serve(settings: GraphSettings, data_dir: PathBuf) -> anyhow::Result<()> {
    let server = GraphServer {
        settings,
        data_dir,
        store: Arc::new(OnceCell::new()),
    };
    let running = server.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}

#[tool_router]
impl GraphServer {
    /// Indexed repositories with their last indexed commit, last index run and numbers of
    /// nodes and relationships.
    #[tool(annotations(read_only_hint = true))]
    async fn repos(
        &self,
        Parameters(args): Parameters<RepoArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.answer(args.repo, Question::Repos).await
    }

    /// Nodes per label and relationships per type of each repository.
    #[tool(annotations(read_only_hint = true))]
    async fn stats(
        &self,
        Parameters(args): Parameters<RepoArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.answer(args.repo, Question::Stats { repository: None })
            .await
    }

    /// Definitions by name with kind, file and line: exact matches, else names starting with
    /// the given one (case ignored).
    #[tool(annotations(read_only_hint = true))]
    async fn find(
        &self,
        Parameters(args): Parameters<FindArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let question = Question::Find {
            name: args.name,
            limit: args.limit.unwrap_or(DEFAULT_LIMIT),
        };
        self.answer(args.repo, question).await
    }

    /// What calls a symbol, with the lines of the calls; `depth` follows callers of callers.
    /// An ambiguous symbol fails with its candidates.
    #[tool(annotations(read_only_hint = true))]
    async fn callers(
        &self,
        Parameters(args): Parameters<CallArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (repo, call) = args.split();
        self.answer(repo, Question::Callers(call)).await
    }

    /// What a symbol calls; `depth` follows callees of callees.
    #[tool(annotations(read_only_hint = true))]
    async fn callees(
        &self,
        Parameters(args): Parameters<CallArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (repo, call) = args.split();
        self.answer(repo, Question::Callees(call)).await
    }

    /// A file's definitions, what it imports, and which files import it or its definitions.
    #[tool(annotations(read_only_hint = true))]
    async fn file(
        &self,
        Parameters(args): Parameters<FileArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.answer(args.repo, Question::File { path: args.path })
            .await
    }
}

impl GraphServer {
    /// Asks the store; an unknown or ambiguous name is an invalid-params error (the candidates
    /// in its data), a store failure an internal error.
    async fn answer(
        &self,
        repo: Option<String>,
        question: Question,
    ) -> Result<CallToolResult, ErrorData> {
        let store = self
            .store
            .get_or_try_init(|| open(&self.settings, &self.data_dir))
            .await;
        let answer = match store {
            Ok(store) => ask(store, repo.as_deref(), &question).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(answer) => serde_json::to_value(answer)
                .map(CallToolResult::structured)
                .map_err(|e| ErrorData::internal_error(e.to_string(), None)),
            Err(e) => {
                let message = e.to_string();
                Err(match e {
                    QueryError::Store(_) => ErrorData::internal_error(message, None),
                    QueryError::NotFound(_) => ErrorData::invalid_params(message, None),
                    QueryError::Ambiguous { candidates, .. } => ErrorData::invalid_params(
                        message,
                        Some(serde_json::json!({ "candidates": candidates })),
                    ),
                })
            }
        }
    }
}

#[tool_handler]
impl ServerHandler for GraphServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "worker-host",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "The code knowledge graph of repositories indexed by worker-host: find \
                 definitions, their callers and callees, and what files import.",
            )
    }
}
