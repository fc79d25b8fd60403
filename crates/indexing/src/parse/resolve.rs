//! Linking references to definitions across the repository. Each call, import and base type
//! gets a [`Target`]: a definition (or file, or Go package directory) of the repository when
//! the names allow it, or an external name otherwise, with [`Via`] saying how it was found.
//!
//! Order of lookup for a call `f()`: a definition visible in the same file (enclosing scopes
//! first), a name the file imports, a top-level name of the same package directory (Go, Java),
//! then the only definition of that name in the repository. For `x.f()`: the caller's own type
//! and its bases when `x` is `self`/`this` (or a Go receiver), the module or type `x` is bound
//! to by an import, a type named `x`, then the only method named `f`. Module paths are matched
//! against file paths by the rule the language's [`Names`] choose ([`ModulePaths`]: Python
//! `a.b` → `a/b.py` or `a/b/__init__.py`, JavaScript `./x` → `x.ts`, `x/index.js`, Go import
//! paths → directories, Java `a.b.C` → `a/b/C.java`, Rust `crate::a::b` → `a/b.rs`). A name
//! looked up in a module file follows that file's own imports a few levels deep, so re-exports
//! (`from .case import TestCase` in an `__init__.py`, `export { x } from "./y"`) resolve. No
//! language is named here: what differs between languages is data of their spec.
//!
//! Methods declared outside their type (Go methods, Rust `impl` blocks) get their owner
//! rewritten to the type's definition when the repository has exactly one candidate (in the
//! same directory first).
//!
//! Each file's references can be given a time budget ([`resolve_within`]): a file that runs
//! out of it is left out, and the links of other files into it become unresolved.

use std::time::{Duration, Instant};

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use rayon::prelude::*;

use super::language::{LanguageSpec, ModuleBinding, ModulePaths, Names};
use super::limits::Deadline;
use super::model::{
    CallEdge, DefinitionKind, FileFacts, ImportEdge, InheritEdge, Language, Target, Via,
};

/// How deep base classes are searched for an inherited method.
const MAX_BASE_DEPTH: usize = 8;
/// How many re-exports (`from .case import TestCase` in an `__init__.py`) are followed.
const MAX_REEXPORT_DEPTH: usize = 4;

/// The facts with owners fixed, and the edges.
#[derive(Debug, Default)]
pub struct Resolved {
    pub files: Vec<FileFacts>,
    pub calls: Vec<CallEdge>,
    pub imports: Vec<ImportEdge>,
    pub inherits: Vec<InheritEdge>,
    /// Paths of the files left out because their budget ran out, sorted.
    pub timed_out: Vec<String>,
}

/// Resolves the references of all files against each other, on the current rayon pool.
pub fn resolve(files: Vec<FileFacts>) -> Resolved {
    let budgets = vec![None; files.len()];
    resolve_within(files, &budgets)
}

/// Like [`resolve`], but the references of `files[i]` get `budgets[i]` of time (`None`, or a
/// missing entry: no limit). A file that runs out is left out with its edges and named in
/// [`Resolved::timed_out`]; the links of other files into it become unresolved.
pub fn resolve_within(mut files: Vec<FileFacts>, budgets: &[Option<Duration>]) -> Resolved {
    fix_owners(&mut files);
    let index = Index::new(&files);
    let mut clocks: Vec<Clock> = (0..files.len())
        .map(|file| Clock::new(budgets.get(file).copied().flatten()))
        .collect();
    let (scopes, imports): (Vec<FileScope>, Vec<Vec<ImportEdge>>) = clocks
        .par_iter_mut()
        .enumerate()
        .map(|(file, clock)| {
            let mut edges = Vec::new();
            let scope = clock.run(|deadline| index.import_file(file, &mut edges, deadline));
            (scope, edges)
        })
        .unzip();
    let mut bases: HashMap<&str, Vec<String>> = HashMap::new();
    let mut inherits = Vec::with_capacity(files.len());
    for (file, facts) in files.iter().enumerate() {
        let edges = clocks[file].run(|deadline| {
            let mut edges = Vec::with_capacity(facts.inherits.len());
            for inherit in facts.inherits.iter().take_while(|_| !deadline.passed()) {
                let (target, via) = index.resolve_type(file, &scopes[file], &inherit.parent);
                if let Target::Internal(parent) = &target {
                    bases
                        .entry(inherit.child.as_str())
                        .or_default()
                        .push(parent.clone());
                }
                edges.push(InheritEdge::of(inherit, target, via));
            }
            edges
        });
        inherits.push(edges);
    }
    let calls: Vec<Vec<CallEdge>> = clocks
        .par_iter_mut()
        .enumerate()
        .map(|(file, clock)| {
            let (scope, bases) = (&scopes[file], &bases);
            clock.run(|deadline| {
                let calls = files[file].calls.iter().take_while(|_| !deadline.passed());
                calls
                    .map(|call| {
                        let (target, via) = index.resolve_call(file, scope, bases, call);
                        CallEdge::of(call, target, via)
                    })
                    .collect()
            })
        })
        .collect();
    let timed_out: Vec<bool> = clocks.iter().map(|clock| clock.out).collect();
    let mut resolved = Resolved::default();
    let mut removed: HashSet<String> = HashSet::new();
    for (file, ((facts, imports), (inherits, calls))) in files
        .into_iter()
        .zip(imports)
        .zip(inherits.into_iter().zip(calls))
        .enumerate()
    {
        if timed_out[file] {
            removed.extend(facts.definitions.into_iter().map(|d| d.qualified_name));
            removed.insert(facts.path.clone());
            resolved.timed_out.push(facts.path);
            continue;
        }
        resolved.files.push(facts);
        resolved.imports.extend(imports);
        resolved.inherits.extend(inherits);
        resolved.calls.extend(calls);
    }
    if !removed.is_empty() {
        resolved.unlink(&removed);
    }
    resolved
}

/// The time one file's resolution has left, across its phases.
struct Clock {
    left: Option<Duration>,
    out: bool,
}

impl Clock {
    fn new(left: Option<Duration>) -> Self {
        Self {
            out: left == Some(Duration::ZERO),
            left,
        }
    }

    /// Runs one phase of the file's resolution against what is left of its time (the phase
    /// stops early once `deadline` has passed), and counts the time it took.
    fn run<R: Default>(&mut self, phase: impl FnOnce(&Deadline) -> R) -> R {
        if self.out {
            return R::default();
        }
        let started = Instant::now();
        let deadline = Deadline::after(self.left);
        let result = phase(&deadline);
        self.out = deadline.passed();
        self.left = self.left.map(|left| left.saturating_sub(started.elapsed()));
        result
    }
}

impl Resolved {
    /// Makes the links into `removed` (qualified names and paths of left-out files)
    /// unresolved, named as written.
    fn unlink(&mut self, removed: &HashSet<String>) {
        let gone = |target: &Target| matches!(target, Target::Internal(q) if removed.contains(q));
        for call in self.calls.iter_mut().filter(|edge| gone(&edge.target)) {
            call.target = Target::External(call.callee.to_string());
            call.via = Via::Unresolved;
        }
        for import in self.imports.iter_mut().filter(|edge| gone(&edge.target)) {
            let separator =
                LanguageSpec::for_path(&import.file).map_or(".", |spec| spec.names.path_separator);
            let written = match &import.name {
                Some(name) => external_name(&import.module, separator, name),
                None => import.module.clone(),
            };
            import.target = Target::External(written);
            import.via = Via::Unresolved;
        }
        for inherit in self.inherits.iter_mut().filter(|edge| gone(&edge.target)) {
            inherit.target = Target::External(strip_generics(&inherit.parent).to_owned());
            inherit.via = Via::Unresolved;
        }
    }
}

fn names(language: Language) -> &'static Names {
    LanguageSpec::of(language).names
}

/// Languages whose files import each other.
fn family(language: Language) -> Language {
    names(language).family
}

/// `path::a.B.c` → `a.B.c`.
fn chain(qualified_name: &str) -> &str {
    qualified_name
        .split_once("::")
        .map_or(qualified_name, |(_, chain)| chain)
}

fn last_segment(qualified_name: &str) -> &str {
    let chain = chain(qualified_name);
    chain.rsplit('.').next().unwrap_or(chain)
}

fn directory(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn join(base: &str, rest: &str) -> String {
    match (base.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_owned(),
        (_, true) => base.to_owned(),
        _ => format!("{base}/{rest}"),
    }
}

/// The key a file is imported by: its path without extension, and without the file name of a
/// package's entry file (`__init__`, `index`, `mod`).
fn module_key(path: &str, language: Language) -> String {
    let stem = match path.rsplit_once('.') {
        Some((stem, _)) if !stem.ends_with('/') && !stem.is_empty() => stem,
        _ => path,
    };
    let Some(entry) = names(language).entry_file else {
        return stem.to_owned();
    };
    if stem == entry {
        return String::new();
    }
    stem.strip_suffix(entry)
        .and_then(|dir| dir.strip_suffix('/'))
        .unwrap_or(stem)
        .to_owned()
}

/// (family, path key) → files.
type PathIndex = HashMap<(Language, String), Vec<usize>>;
/// (family, last segment) → the keys ending with it.
type SuffixIndex = HashMap<(Language, String), Vec<String>>;

/// Adds `file` under `key` to `paths`, and a new key to `suffixes` under its last segment.
fn add_path(
    paths: &mut PathIndex,
    suffixes: &mut SuffixIndex,
    language: Language,
    key: String,
    file: usize,
) {
    let files = paths.entry((language, key.clone())).or_default();
    if files.is_empty() {
        let last = key.rsplit('/').next().unwrap_or("").to_owned();
        suffixes.entry((language, last)).or_default().push(key);
    }
    files.push(file);
}

/// A generic type without its arguments: `List<String>` → `List`, `Base[T]` → `Base`.
fn strip_generics(name: &str) -> &str {
    name.split(['<', '[', '(']).next().unwrap_or(name).trim()
}

/// Gives Go methods and Rust `impl` methods the owner definition of their type.
fn fix_owners(files: &mut [FileFacts]) {
    let renames = owner_renames(files);
    if renames.is_empty() {
        return;
    }
    for facts in files.iter_mut() {
        for definition in &mut facts.definitions {
            if let Some(new) = definition.owner.as_deref().and_then(|o| renames.get(o)) {
                definition.owner = Some(new.clone());
            }
        }
        for inherit in &mut facts.inherits {
            if let Some(new) = renames.get(inherit.child.as_str()) {
                inherit.child = new.clone();
            }
        }
    }
}

/// Owner names no definition has → the only type of that name (in the same directory
/// first), for [`fix_owners`].
fn owner_renames(files: &[FileFacts]) -> HashMap<String, String> {
    let definitions = files.iter().map(|facts| facts.definitions.len()).sum();
    let mut known: HashSet<&str> = HashSet::with_capacity(definitions);
    let mut types: HashMap<(Language, &str), Vec<(&str, &str)>> = HashMap::new();
    for facts in files {
        for definition in &facts.definitions {
            known.insert(&definition.qualified_name);
            if definition.kind.is_type() {
                types
                    .entry((family(facts.language), definition.name.as_str()))
                    .or_default()
                    .push((&definition.qualified_name, directory(&facts.path)));
            }
        }
    }
    let mut renamed: HashMap<&str, Option<&str>> = HashMap::new();
    for facts in files {
        let language = family(facts.language);
        let dir = directory(&facts.path);
        let owners = facts.definitions.iter().filter_map(|d| d.owner.as_deref());
        let children = facts.inherits.iter().map(|i| i.child.as_str());
        for owner in owners
            .chain(children)
            .filter(|owner| !known.contains(owner))
        {
            renamed.entry(owner).or_insert_with(|| {
                let candidates = types.get(&(language, last_segment(owner)))?;
                let same_dir: Vec<_> = candidates.iter().filter(|(_, d)| *d == dir).collect();
                match (same_dir.as_slice(), candidates.as_slice()) {
                    ([(only, _)], _) | ([], [(only, _)]) => Some(*only),
                    _ => None,
                }
            });
        }
    }
    renamed
        .into_iter()
        .filter_map(|(owner, new)| Some((owner.to_owned(), new?.to_owned())))
        .collect()
}

/// What a local name of a file stands for, through its imports.
#[derive(Debug, Clone)]
enum Binding {
    Definition(String),
    File(usize),
    Directory(String),
    External(String),
}

/// The names a file's imports bring in.
#[derive(Debug, Default)]
struct FileScope {
    bindings: HashMap<String, Binding>,
    wildcard_files: Vec<usize>,
    wildcard_directories: Vec<String>,
}

struct Index<'a> {
    files: &'a [FileFacts],
    /// Qualified name → (file, definition).
    by_qualified_name: HashMap<&'a str, (usize, usize)>,
    /// (language family, name) → definitions.
    by_name: HashMap<(Language, &'a str), Vec<(usize, usize)>>,
    /// Per file: name → positions of that file's definitions of that name.
    in_file: Vec<HashMap<&'a str, Vec<usize>>>,
    /// Per file: the first name of each definition's chain (`geometry` of
    /// `a.rs::geometry.Circle`): a receiver that names a scope of the file starts with one.
    scopes: Vec<HashSet<&'a str>>,
    /// (file, name) → qualified name of the first top-level definition of that name.
    top_level: HashMap<(usize, &'a str), &'a str>,
    /// Owner → name → qualified name of the first member of that name.
    members: HashMap<&'a str, HashMap<&'a str, &'a str>>,
    /// (family, module key) → files.
    modules: PathIndex,
    /// (family, directory) → files.
    directories: PathIndex,
    /// (family, last segment) → module keys and directories ending with it.
    module_suffixes: SuffixIndex,
    directory_suffixes: SuffixIndex,
}

impl<'a> Index<'a> {
    fn new(files: &'a [FileFacts]) -> Self {
        let definitions = files.iter().map(|facts| facts.definitions.len()).sum();
        let (in_file, scopes) = files.par_iter().map(Self::file_names).unzip();
        let mut index = Index {
            files,
            by_qualified_name: HashMap::with_capacity(definitions),
            by_name: HashMap::with_capacity(definitions),
            in_file,
            scopes,
            top_level: HashMap::with_capacity(definitions),
            members: HashMap::new(),
            modules: HashMap::with_capacity(files.len()),
            directories: HashMap::new(),
            module_suffixes: HashMap::new(),
            directory_suffixes: HashMap::new(),
        };
        for (file, facts) in files.iter().enumerate() {
            let language = family(facts.language);
            for (position, definition) in facts.definitions.iter().enumerate() {
                let name = definition.name.as_str();
                index
                    .by_qualified_name
                    .insert(&definition.qualified_name, (file, position));
                index
                    .by_name
                    .entry((language, name))
                    .or_default()
                    .push((file, position));
                if definition.owner.is_none() && !chain(&definition.qualified_name).contains('.') {
                    index
                        .top_level
                        .entry((file, name))
                        .or_insert(&definition.qualified_name);
                }
                if let Some(owner) = &definition.owner {
                    index
                        .members
                        .entry(owner)
                        .or_default()
                        .entry(name)
                        .or_insert(&definition.qualified_name);
                }
            }
            let key = module_key(&facts.path, facts.language);
            add_path(
                &mut index.modules,
                &mut index.module_suffixes,
                language,
                key,
                file,
            );
            let dir = directory(&facts.path).to_owned();
            add_path(
                &mut index.directories,
                &mut index.directory_suffixes,
                language,
                dir,
                file,
            );
        }
        for keys in index
            .module_suffixes
            .values_mut()
            .chain(index.directory_suffixes.values_mut())
        {
            keys.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        }
        index
    }

    /// One file's names: name → positions of its definitions, and the first names of their
    /// chains.
    fn file_names(facts: &'a FileFacts) -> (HashMap<&'a str, Vec<usize>>, HashSet<&'a str>) {
        let mut in_file: HashMap<&str, Vec<usize>> =
            HashMap::with_capacity(facts.definitions.len());
        let mut scopes = HashSet::new();
        for (position, definition) in facts.definitions.iter().enumerate() {
            in_file
                .entry(definition.name.as_str())
                .or_default()
                .push(position);
            let chain = chain(&definition.qualified_name);
            scopes.insert(chain.split('.').next().unwrap_or(chain));
        }
        (in_file, scopes)
    }

    fn definition(&self, qualified_name: &str) -> Option<&'a super::model::Definition> {
        let (file, position) = self.by_qualified_name.get(qualified_name)?;
        self.files[*file].definitions.get(*position)
    }

    /// The definitions of a file with a name, in source order.
    fn named_in_file<'s>(
        &'s self,
        file: usize,
        name: &str,
    ) -> impl Iterator<Item = &'a super::model::Definition> + use<'a, 's> {
        let definitions = &self.files[file].definitions;
        let positions: &'s [usize] = self
            .in_file
            .get(file)
            .and_then(|names| names.get(name))
            .map_or(&[], Vec::as_slice);
        positions
            .iter()
            .filter_map(|position| definitions.get(*position))
    }

    /// The file of a module key: exact, or (with `anywhere`) the shortest path ending with it.
    fn module_file(&self, language: Language, key: &str, anywhere: bool) -> Option<usize> {
        let language = family(language);
        if let Some(files) = self.modules.get(&(language, key.to_owned())) {
            return files.first().copied();
        }
        if !anywhere || key.is_empty() {
            return None;
        }
        let last = key.rsplit('/').next().unwrap_or(key).to_owned();
        let suffix = format!("/{key}");
        self.module_suffixes
            .get(&(language, last))?
            .iter()
            .find(|candidate| candidate.ends_with(&suffix))
            .and_then(|candidate| self.modules.get(&(language, candidate.clone())))
            .and_then(|files| files.first().copied())
    }

    /// The directory of a package: exact; else the longest directory that ends the import
    /// path (Go: `example.com/proj/pkg/util` → `pkg/util`); else the shortest directory ending
    /// with it (Java: `com/x` → `src/main/java/com/x`).
    fn package_directory(&self, language: Language, key: &str) -> Option<String> {
        let language = family(language);
        if self.directories.contains_key(&(language, key.to_owned())) {
            return Some(key.to_owned());
        }
        let last = key.rsplit('/').next().unwrap_or(key).to_owned();
        let candidates = self.directory_suffixes.get(&(language, last))?;
        let suffix = format!("/{key}");
        candidates
            .iter()
            .rev()
            .find(|candidate| !candidate.is_empty() && key.ends_with(&format!("/{candidate}")))
            .or_else(|| {
                candidates
                    .iter()
                    .find(|candidate| candidate.ends_with(&suffix))
            })
            .cloned()
    }

    /// A top-level definition named `name` in any file of a directory.
    fn in_directory(&self, language: Language, dir: &str, name: &str) -> Option<&'a str> {
        self.directories
            .get(&(family(language), dir.to_owned()))?
            .iter()
            .find_map(|file| self.top_level.get(&(*file, name)).copied())
    }

    /// The only definition of a name in the repository, among the kinds accepted.
    fn unique(
        &self,
        language: Language,
        name: &str,
        accept: impl Fn(DefinitionKind) -> bool,
    ) -> Option<&'a str> {
        let mut found = self
            .by_name
            .get(&(family(language), name))?
            .iter()
            .map(|(file, position)| &self.files[*file].definitions[*position])
            .filter(|definition| accept(definition.kind));
        let first = found.next()?;
        found
            .next()
            .is_none()
            .then_some(first.qualified_name.as_str())
    }

    /// A member of a type or of one of its bases (breadth first, bounded).
    fn member(
        &self,
        bases: &HashMap<&str, Vec<String>>,
        owner: &str,
        name: &str,
    ) -> Option<&'a str> {
        if let Some(found) = self.members.get(owner).and_then(|m| m.get(name)) {
            return Some(found);
        }
        if !bases.contains_key(owner) {
            return None;
        }
        let mut queue = vec![owner.to_owned()];
        let mut seen = HashSet::new();
        for _ in 0..MAX_BASE_DEPTH {
            let mut next = Vec::new();
            for owner in queue {
                if !seen.insert(owner.clone()) {
                    continue;
                }
                if let Some(found) = self.members.get(owner.as_str()).and_then(|m| m.get(name)) {
                    return Some(found);
                }
                next.extend(bases.get(owner.as_str()).into_iter().flatten().cloned());
            }
            if next.is_empty() {
                break;
            }
            queue = next;
        }
        None
    }

    /// Resolves the imports of one file into edges, and returns the names they bind; stops
    /// early once `deadline` has passed.
    fn import_file(
        &self,
        file: usize,
        edges: &mut Vec<ImportEdge>,
        deadline: &Deadline,
    ) -> FileScope {
        let facts = &self.files[file];
        let names = names(facts.language);
        let mut scope = FileScope::default();
        for import in facts.imports.iter().take_while(|_| !deadline.passed()) {
            let module = self.import_module(file, &import.module);
            let mut edge = |name: Option<&str>, target: Target, via: Via| {
                edges.push(ImportEdge::of(&facts.path, import, name, target, via));
            };
            let external_name = |name| external_name(&import.module, names.path_separator, name);
            if import.names.is_empty() {
                let (target, via, binding) = match &module {
                    Some(Binding::File(found)) => (
                        Target::Internal(self.files[*found].path.clone()),
                        Via::ModulePath,
                        Binding::File(*found),
                    ),
                    Some(Binding::Directory(dir)) => (
                        Target::Internal(dir.clone()),
                        Via::ModulePath,
                        Binding::Directory(dir.clone()),
                    ),
                    _ => (
                        Target::External(import.module.clone()),
                        Via::Unresolved,
                        Binding::External(import.module.clone()),
                    ),
                };
                edge(None, target, via);
                let local = import.alias.clone().or_else(|| match names.module_binding {
                    ModuleBinding::WholePath => Some(import.module.clone()),
                    ModuleBinding::LastSegment => import
                        .module
                        .rsplit(names.path_separator)
                        .next()
                        .map(str::to_owned),
                    ModuleBinding::Nothing => None,
                });
                if let Some(local) = local {
                    scope.bindings.insert(local, binding);
                }
                continue;
            }
            if let Some(alias) = &import.alias
                && let Some(binding) = &module
            {
                scope.bindings.insert(alias.clone(), binding.clone());
            }
            for imported in &import.names {
                let name = imported.name.as_str();
                if name == "*" {
                    match &module {
                        Some(Binding::File(found)) => {
                            scope.wildcard_files.push(*found);
                            edge(
                                Some(name),
                                Target::Internal(self.files[*found].path.clone()),
                                Via::ModulePath,
                            );
                        }
                        Some(Binding::Directory(dir)) => {
                            scope.wildcard_directories.push(dir.clone());
                            edge(Some(name), Target::Internal(dir.clone()), Via::ModulePath);
                        }
                        _ => edge(
                            Some(name),
                            Target::External(import.module.clone()),
                            Via::Unresolved,
                        ),
                    }
                    continue;
                }
                let local = imported
                    .alias
                    .clone()
                    .unwrap_or_else(|| name.rsplit([':', '.']).next().unwrap_or(name).to_owned());
                let (target, via, binding) = self.import_name(file, &import.module, &module, name);
                // A name found as a definition binds it; one not found (or found only as its
                // module file) stays external for the code that uses it.
                let binding = binding.unwrap_or_else(|| match &target {
                    Target::Internal(qualified_name)
                        if self.by_qualified_name.contains_key(qualified_name.as_str()) =>
                    {
                        Binding::Definition(qualified_name.clone())
                    }
                    _ => Binding::External(external_name(name)),
                });
                let target = match target {
                    Target::External(_) => Target::External(external_name(name)),
                    internal => internal,
                };
                edge(Some(name), target, via);
                scope.bindings.insert(local, binding);
            }
        }
        scope
    }

    /// Where a module of an import lives in the repository, if it does.
    fn import_module(&self, file: usize, module: &str) -> Option<Binding> {
        let facts = &self.files[file];
        let language = facts.language;
        let dir = directory(&facts.path);
        match names(language).module_paths {
            ModulePaths::DottedWithRelativeDots => {
                let dots = module.len() - module.trim_start_matches('.').len();
                let rest = module[dots..].replace('.', "/");
                if dots == 0 {
                    return self.module_file(language, &rest, true).map(Binding::File);
                }
                let mut base = dir;
                for _ in 1..dots {
                    base = directory(base);
                }
                self.module_file(language, &join(base, &rest), false)
                    .map(Binding::File)
            }
            ModulePaths::RelativeFiles => {
                if !module.starts_with('.') {
                    return None;
                }
                let joined = normalize(&join(dir, module))?;
                self.module_file(language, &joined, false)
                    .or_else(|| {
                        let stripped = module_key(&joined, language);
                        self.module_file(language, &stripped, false)
                    })
                    .map(Binding::File)
            }
            ModulePaths::PackageDirectories => {
                let first = module.split('/').next().unwrap_or(module);
                if !first.contains('.') {
                    // Standard library (or a module path we cannot tell apart from it).
                    return None;
                }
                self.package_directory(language, module)
                    .map(Binding::Directory)
            }
            ModulePaths::DottedFilesOrPackages => {
                let key = module.replace('.', "/");
                self.module_file(language, &key, true)
                    .map(Binding::File)
                    .or_else(|| {
                        self.package_directory(language, &key)
                            .map(Binding::Directory)
                    })
            }
            ModulePaths::CratePaths { local_roots } => {
                let (local, key) = crate_path(module, names(language), local_roots);
                if key.is_empty() {
                    return None;
                }
                let found = self.module_file(language, &key, true).map(Binding::File);
                if local {
                    found
                } else {
                    // An external crate unless a module of the repository has this path.
                    found.filter(|_| key.contains('/'))
                }
            }
        }
    }

    /// The target of one imported name, and what it binds when that is not the target.
    fn import_name(
        &self,
        file: usize,
        module_text: &str,
        module: &Option<Binding>,
        name: &str,
    ) -> (Target, Via, Option<Binding>) {
        let language = self.files[file].language;
        let plain = name.rsplit([':', '.']).next().unwrap_or(name);
        match module {
            Some(Binding::File(found)) => {
                if let Some(qualified_name) = self.export(*found, plain) {
                    return (
                        Target::Internal(qualified_name.to_owned()),
                        Via::Import,
                        None,
                    );
                }
                // A submodule (`from pkg import mod`), or a member of a Java class
                // (`import static a.B.m`).
                let sub = join(&module_key(&self.files[*found].path, language), plain);
                if let Some(sub) = self.module_file(language, &sub, false) {
                    return (
                        Target::Internal(self.files[sub].path.clone()),
                        Via::ModulePath,
                        Some(Binding::File(sub)),
                    );
                }
                let class = module_text.rsplit(['.', ':']).next().unwrap_or(module_text);
                if let Some(member) = self
                    .top_level
                    .get(&(*found, class))
                    .and_then(|owner| self.members.get(owner))
                    .and_then(|members| members.get(plain))
                {
                    return (Target::Internal((*member).to_owned()), Via::Import, None);
                }
                // Defined where we cannot see (a C extension, a dynamic export): the import
                // points at the module file, uses of the name stay external.
                (
                    Target::Internal(self.files[*found].path.clone()),
                    Via::ModulePath,
                    None,
                )
            }
            Some(Binding::Directory(dir)) => match self.in_directory(language, dir, plain) {
                Some(qualified_name) => (
                    Target::Internal(qualified_name.to_owned()),
                    Via::Import,
                    None,
                ),
                None => (Target::Internal(dir.clone()), Via::ModulePath, None),
            },
            _ => {
                // Only the crate's own modules: a name from outside is not guessed.
                let names = names(language);
                let local = match names.module_paths {
                    ModulePaths::CratePaths { local_roots } => {
                        crate_path(module_text, names, local_roots).0
                    }
                    _ => false,
                };
                match self.unique(language, plain, |_| true).filter(|_| local) {
                    Some(qualified_name) => (
                        Target::Internal(qualified_name.to_owned()),
                        Via::UniqueName,
                        None,
                    ),
                    None => (Target::External(String::new()), Via::Unresolved, None),
                }
            }
        }
    }

    /// A type named as written (`Base`, `mod.Base`, `fmt::Display`, `List<T>`).
    fn resolve_type(&self, file: usize, scope: &FileScope, written: &str) -> (Target, Via) {
        let language = self.files[file].language;
        let name = strip_generics(written);
        let (qualifier, plain) = match name.rsplit_once("::").or_else(|| name.rsplit_once('.')) {
            Some((qualifier, plain)) => (Some(qualifier), plain),
            None => (None, name),
        };
        let is_type = |kind: DefinitionKind| kind.is_type();
        if let Some(qualifier) = qualifier {
            match scope.bindings.get(qualifier) {
                Some(Binding::File(found)) => {
                    if let Some(q) = self.export(*found, plain) {
                        return (Target::Internal(q.to_owned()), Via::Import);
                    }
                }
                Some(Binding::Directory(dir)) => {
                    if let Some(q) = self.in_directory(language, dir, plain) {
                        return (Target::Internal(q.to_owned()), Via::Import);
                    }
                }
                Some(Binding::External(module)) => {
                    let separator = names(language).member_separator;
                    return (
                        Target::External(format!("{module}{separator}{plain}")),
                        Via::Unresolved,
                    );
                }
                _ => {}
            }
        } else if let Some(found) = self.visible_type(file, scope, plain) {
            return found;
        }
        match self.unique(language, plain, is_type) {
            Some(q) => (Target::Internal(q.to_owned()), Via::UniqueName),
            None => (Target::External(name.to_owned()), Via::Unresolved),
        }
    }

    /// A type visible by its bare name: same file, imports, same package.
    fn visible_type(&self, file: usize, scope: &FileScope, name: &str) -> Option<(Target, Via)> {
        let language = self.files[file].language;
        if let Some(definition) = self.named_in_file(file, name).find(|d| d.kind.is_type()) {
            return Some((
                Target::Internal(definition.qualified_name.clone()),
                Via::SameFile,
            ));
        }
        if let Some(found) = self.through_imports(language, scope, name) {
            return Some(found);
        }
        if names(language).directory_is_package
            && let Some(q) = self.in_directory(language, directory(&self.files[file].path), name)
        {
            return Some((Target::Internal(q.to_owned()), Via::Package));
        }
        None
    }

    /// A bare name brought in by an import (directly or by a wildcard).
    fn through_imports(
        &self,
        language: Language,
        scope: &FileScope,
        name: &str,
    ) -> Option<(Target, Via)> {
        match scope.bindings.get(name) {
            Some(Binding::Definition(q)) => {
                return Some((Target::Internal(q.clone()), Via::Import));
            }
            Some(Binding::External(external)) => {
                return Some((Target::External(external.clone()), Via::Unresolved));
            }
            // A module is neither called nor inherited from.
            Some(Binding::File(_) | Binding::Directory(_)) => return None,
            None => {}
        }
        scope
            .wildcard_files
            .iter()
            .find_map(|file| self.export(*file, name))
            .or_else(|| {
                scope
                    .wildcard_directories
                    .iter()
                    .find_map(|dir| self.in_directory(language, dir, name))
            })
            .map(|q| (Target::Internal(q.to_owned()), Via::Import))
    }

    /// A top-level name a module file defines or re-exports: `from .case import TestCase` in
    /// a package's `__init__.py`, `export { x } from "./y"`, wildcard re-exports; followed
    /// [`MAX_REEXPORT_DEPTH`] levels deep.
    fn export(&self, file: usize, name: &str) -> Option<&'a str> {
        self.export_from(file, name, MAX_REEXPORT_DEPTH, &mut HashSet::new())
    }

    fn export_from(
        &self,
        file: usize,
        name: &str,
        depth: usize,
        seen: &mut HashSet<(usize, String)>,
    ) -> Option<&'a str> {
        if let Some(found) = self.top_level.get(&(file, name)) {
            return Some(found);
        }
        // A file without imports re-exports nothing: no need to remember it as seen.
        if depth == 0
            || self.files[file].imports.is_empty()
            || !seen.insert((file, name.to_owned()))
        {
            return None;
        }
        for import in &self.files[file].imports {
            for imported in &import.names {
                let plain = imported
                    .name
                    .rsplit([':', '.'])
                    .next()
                    .unwrap_or(&imported.name);
                let wanted = if imported.name == "*" {
                    name
                } else if imported.alias.as_deref().unwrap_or(plain) == name {
                    plain
                } else {
                    continue;
                };
                if let Some(Binding::File(module)) = self.import_module(file, &import.module)
                    && let Some(found) = self.export_from(module, wanted, depth - 1, seen)
                {
                    return Some(found);
                }
            }
        }
        None
    }

    /// The type a caller belongs to: its owner, or the owner of the method it is nested in.
    fn caller_type(&self, caller: &str) -> Option<&'a str> {
        let mut name = caller;
        loop {
            if let Some(definition) = self.definition(name) {
                if definition.kind.is_type() {
                    return Some(definition.qualified_name.as_str());
                }
                if let Some(owner) = &definition.owner {
                    return Some(owner.as_str());
                }
            }
            let (outer, _) = name.rsplit_once('.')?;
            if !outer.contains("::") {
                return None;
            }
            name = outer;
        }
    }

    fn resolve_call(
        &self,
        file: usize,
        scope: &FileScope,
        bases: &HashMap<&str, Vec<String>>,
        call: &super::model::Call,
    ) -> (Target, Via) {
        let facts = &self.files[file];
        let language = facts.language;
        let names = names(language);
        let name = &*call.callee;
        let internal = |q: &str, via| (Target::Internal(q.to_owned()), via);
        let Some(receiver) = call.receiver.as_deref() else {
            if let Some(q) = self.visible_callable(file, &call.caller, name) {
                return internal(q, Via::SameFile);
            }
            if names.implicit_this
                && let Some(q) = self
                    .caller_type(&call.caller)
                    .and_then(|owner| self.member(bases, owner, name))
            {
                return internal(q, Via::Owner);
            }
            if let Some(found) = self.through_imports(language, scope, name) {
                return found;
            }
            if names.directory_is_package
                && let Some(q) = self.in_directory(language, directory(&facts.path), name)
            {
                return internal(q, Via::Package);
            }
            return match self.unique(language, name, |kind| kind != DefinitionKind::Method) {
                Some(q) => internal(q, Via::UniqueName),
                None => (Target::External(name.to_owned()), Via::Unresolved),
            };
        };
        if call.receiver_is_self {
            if let Some(q) = self
                .caller_type(&call.caller)
                .and_then(|owner| self.member(bases, owner, name))
            {
                return internal(q, Via::Owner);
            }
        } else {
            match scope.bindings.get(receiver) {
                Some(Binding::File(found)) => {
                    if let Some(q) = self.export(*found, name) {
                        return internal(q, Via::Import);
                    }
                }
                Some(Binding::Directory(dir)) => {
                    if let Some(q) = self.in_directory(language, dir, name) {
                        return internal(q, Via::Import);
                    }
                }
                Some(Binding::Definition(q)) => {
                    if let Some(member) = self.member(bases, q, name) {
                        return internal(member, Via::Import);
                    }
                }
                Some(Binding::External(module)) => {
                    return (
                        Target::External(format!("{module}{}{name}", names.member_separator)),
                        Via::Unresolved,
                    );
                }
                None => {
                    if let Some(found) = self.unbound_receiver(file, scope, bases, receiver, name) {
                        return found;
                    }
                }
            }
        }
        if let Some(q) = self.unique(language, name, |kind| kind == DefinitionKind::Method) {
            return internal(q, Via::UniqueName);
        }
        // A qualified name (`String::from`, `System.out.println`) says more than the bare name;
        // a variable (`obj.run`) does not.
        let qualified = receiver.contains("::")
            || (receiver.starts_with(|c: char| c.is_ascii_uppercase())
                && receiver
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '.'));
        let external = if qualified {
            format!("{receiver}{}{name}", names.member_separator)
        } else {
            name.to_owned()
        };
        (Target::External(external), Via::Unresolved)
    }

    /// `x.f()` where `x` is no imported name: a module imported under the first segment of
    /// `x` (`os.path.join` after `import os`), a scope of the same file (`geometry.Circle`), or
    /// a type named `x` (`Store::new`).
    fn unbound_receiver(
        &self,
        file: usize,
        scope: &FileScope,
        bases: &HashMap<&str, Vec<String>>,
        receiver: &str,
        name: &str,
    ) -> Option<(Target, Via)> {
        let separator = names(self.files[file].language).member_separator;
        let first = receiver.split([':', '.']).next().unwrap_or(receiver);
        if first.len() < receiver.len()
            && let Some(Binding::External(module)) = scope.bindings.get(first)
        {
            let rest = &receiver[first.len()..];
            return Some((
                Target::External(format!("{module}{rest}{separator}{name}")),
                Via::Unresolved,
            ));
        }
        if self.scopes[file].contains(first) {
            let chain = format!(
                "{}::{}.{name}",
                self.files[file].path,
                receiver.replace("::", ".")
            );
            if let Some(definition) = self.definition(&chain) {
                return Some((
                    Target::Internal(definition.qualified_name.clone()),
                    Via::SameFile,
                ));
            }
        }
        if let Some((Target::Internal(owner), _)) =
            self.visible_type(file, scope, strip_generics(receiver))
            && let Some(member) = self.member(bases, &owner, name)
        {
            return Some((Target::Internal(member.to_owned()), Via::Owner));
        }
        None
    }

    /// A function or type of the caller's file that is visible from the caller: defined at top
    /// level or in one of the caller's enclosing scopes (the innermost wins).
    fn visible_callable(&self, file: usize, caller: &str, name: &str) -> Option<&'a str> {
        self.named_in_file(file, name)
            .filter(|d| d.kind != DefinitionKind::Method)
            .filter_map(|d| {
                let container = d
                    .qualified_name
                    .rsplit_once('.')
                    .map(|(container, _)| container)
                    .filter(|container| container.contains("::"));
                match container {
                    None => Some((0, d.qualified_name.as_str())),
                    Some(container) => (caller == container
                        || caller
                            .strip_prefix(container)
                            .is_some_and(|rest| rest.starts_with('.')))
                    .then_some((container.len(), d.qualified_name.as_str())),
                }
            })
            .max_by_key(|(depth, _)| *depth)
            .map(|(_, q)| q)
    }
}

/// Whether a crate path names a local root, and its module key: `crate::a::b` → (true, `a/b`);
/// `std::fmt` → (false, `std/fmt`).
fn crate_path(module: &str, names: &Names, local_roots: &[&str]) -> (bool, String) {
    let mut local = false;
    let segments: Vec<&str> = module
        .split(names.path_separator)
        .filter(|segment| {
            let keyword = local_roots.contains(segment);
            local |= keyword;
            !keyword && !segment.is_empty()
        })
        .collect();
    (local, segments.join("/"))
}

/// An imported name not found in the repository: `module<separator>name`.
fn external_name(module: &str, separator: &str, name: &str) -> String {
    if module.is_empty() {
        name.to_owned()
    } else {
        format!("{module}{separator}{name}")
    }
}

/// Resolves `.` and `..` in a relative path; `None` when it leaves the root.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}
