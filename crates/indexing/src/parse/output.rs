//! Storing a [`ParseOutput`] in a file: JSON lines, one compact record per line — a header
//! (format version, skip counts, language statistics), then one record per parsed file and one
//! per skipped file. A file's record holds its facts and the resolved target of each of its
//! edges, in the order of its calls, imports (one edge per imported name, or one for the module)
//! and bases: the edges repeat the facts, so only their targets are stored and [`read_output`]
//! rebuilds them. Records are serialized on all cores and written in order. A reader can stream
//! the file line by line; no compression crate is a dependency, so a caller that wants it
//! compresses the file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::ops::Range;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::ParseError;
use super::model::{
    CallEdge, FileFacts, Import, ImportEdge, InheritEdge, Language, LanguageStats, ParseOutput,
    SkipReason, SkippedFile, Target, Via,
};

/// Version of the record layout; [`read_output`] refuses other versions.
const FORMAT_VERSION: u32 = 2;
/// Files serialized in parallel before their records are written (and read back in parallel
/// before they are taken in order); the index cache's facts files use the same batches.
pub(crate) const FILES_PER_BATCH: usize = 256;

#[derive(Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum RecordRef<'a> {
    Header {
        version: u32,
        skipped: &'a BTreeMap<SkipReason, u64>,
        languages: &'a BTreeMap<Language, LanguageStats>,
    },
    File(FileRecord<&'a FileFacts, (&'a Target, Via)>),
    Skipped(&'a SkippedFile),
}

#[derive(Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum Record {
    Header {
        version: u32,
        skipped: BTreeMap<SkipReason, u64>,
        languages: BTreeMap<Language, LanguageStats>,
    },
    File(FileRecord<FileFacts, (Target, Via)>),
    Skipped(SkippedFile),
}

/// A file's facts and the targets of its edges.
#[derive(Serialize, Deserialize)]
struct FileRecord<F, T> {
    #[serde(flatten)]
    facts: F,
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    call_targets: Vec<T>,
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    import_targets: Vec<T>,
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    inherit_targets: Vec<T>,
}

/// The edges of one file: each call, one import edge per imported name (or one for the module
/// when it names none), each base.
fn import_edge_keys(facts: &FileFacts) -> impl Iterator<Item = (&Import, Option<&str>)> {
    facts.imports.iter().flat_map(|import| {
        let module_only = import.names.is_empty().then_some(None);
        let names = import.names.iter().map(|n| Some(n.name.as_str()));
        module_only
            .into_iter()
            .chain(names)
            .map(move |name| (import, name))
    })
}

/// An edge's resolution: what a file record stores of it.
trait Resolution {
    fn resolution(&self) -> (&Target, Via);
}

impl Resolution for CallEdge {
    fn resolution(&self) -> (&Target, Via) {
        (&self.target, self.via)
    }
}

impl Resolution for ImportEdge {
    fn resolution(&self) -> (&Target, Via) {
        (&self.target, self.via)
    }
}

impl Resolution for InheritEdge {
    fn resolution(&self) -> (&Target, Via) {
        (&self.target, self.via)
    }
}

fn targets<'a, E: Resolution>(edges: &'a [E], range: &Range<usize>) -> Vec<(&'a Target, Via)> {
    edges[range.clone()].iter().map(E::resolution).collect()
}

/// Where each file's edges are in the output's edge lists, checked against the facts they
/// repeat; `None` when the edges do not follow the files (not an output of resolution).
fn edge_ranges(output: &ParseOutput) -> Option<Vec<[Range<usize>; 3]>> {
    let mut next = [0; 3];
    let mut ranges = Vec::with_capacity(output.files.len());
    for facts in &output.files {
        let counts = [
            facts.calls.len(),
            import_edge_keys(facts).count(),
            facts.inherits.len(),
        ];
        let range: [Range<usize>; 3] = std::array::from_fn(|k| next[k]..next[k] + counts[k]);
        let calls = output.calls.get(range[0].clone())?;
        let imports = output.imports.get(range[1].clone())?;
        let inherits = output.inherits.get(range[2].clone())?;
        let aligned = facts.calls.iter().zip(calls).all(|(call, edge)| {
            call.line == edge.line
                && call.callee == edge.callee
                && call.caller == edge.caller
                && call.receiver == edge.receiver
        }) && import_edge_keys(facts)
            .zip(imports)
            .all(|((import, name), edge)| {
                import.line == edge.line
                    && name == edge.name.as_deref()
                    && import.module == edge.module
                    && facts.path == edge.file
            })
            && facts.inherits.iter().zip(inherits).all(|(inherit, edge)| {
                inherit.kind == edge.kind
                    && inherit.child == edge.child
                    && inherit.parent == edge.parent
            });
        if !aligned {
            return None;
        }
        next = std::array::from_fn(|k| range[k].end);
        ranges.push(range);
    }
    let all = [
        output.calls.len(),
        output.imports.len(),
        output.inherits.len(),
    ];
    (next == all).then_some(ranges)
}

/// One record as a line of JSON.
fn record_line(record: &RecordRef) -> Result<Vec<u8>, serde_json::Error> {
    let mut line = serde_json::to_vec(record)?;
    line.push(b'\n');
    Ok(line)
}

/// Writes `output` to `path` (created or truncated). Its edges must be the ones resolution made
/// for its files (as [`super::parse_repository`] returns them): others are an
/// [`std::io::ErrorKind::InvalidInput`] error.
pub fn write_output(path: &Path, output: &ParseOutput) -> Result<(), ParseError> {
    let io_error = |source| ParseError::Io {
        path: path.to_owned(),
        source,
    };
    let json_error = |e: serde_json::Error| io_error(std::io::Error::other(e));
    let ranges = edge_ranges(output).ok_or_else(|| {
        io_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the edges do not follow the files' facts",
        ))
    })?;
    let mut writer = BufWriter::new(File::create(path).map_err(io_error)?);
    let header = RecordRef::Header {
        version: FORMAT_VERSION,
        skipped: &output.skipped,
        languages: &output.languages,
    };
    writer
        .write_all(&record_line(&header).map_err(json_error)?)
        .map_err(io_error)?;
    for (files, ranges) in output
        .files
        .chunks(FILES_PER_BATCH)
        .zip(ranges.chunks(FILES_PER_BATCH))
    {
        let lines = files
            .par_iter()
            .zip(ranges)
            .map(|(facts, [calls, imports, inherits])| {
                record_line(&RecordRef::File(FileRecord {
                    facts,
                    call_targets: targets(&output.calls, calls),
                    import_targets: targets(&output.imports, imports),
                    inherit_targets: targets(&output.inherits, inherits),
                }))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(json_error)?;
        for line in lines {
            writer.write_all(&line).map_err(io_error)?;
        }
    }
    for skipped in &output.skipped_files {
        writer
            .write_all(&record_line(&RecordRef::Skipped(skipped)).map_err(json_error)?)
            .map_err(io_error)?;
    }
    writer.flush().map_err(io_error)
}

/// Reads a file written by [`write_output`].
pub fn read_output(path: &Path) -> Result<ParseOutput, ParseError> {
    read(path, Facts::Kept)
}

/// Reads a file written by [`write_output`] for building its graph: like [`read_output`], but
/// each file's calls, imports and bases are dropped once its edges are rebuilt from them (the
/// graph is made of the edges), so a big repository's output is held once, not twice.
pub fn read_output_edges(path: &Path) -> Result<ParseOutput, ParseError> {
    read(path, Facts::EdgesOnly)
}

/// What [`add_file`] keeps of a file's facts besides its edges.
#[derive(Clone, Copy, PartialEq)]
enum Facts {
    Kept,
    EdgesOnly,
}

fn read(path: &Path, facts: Facts) -> Result<ParseOutput, ParseError> {
    let io_error = |source| ParseError::Io {
        path: path.to_owned(),
        source,
    };
    let reader = BufReader::new(File::open(path).map_err(io_error)?);
    let mut lines = reader.lines().enumerate();
    let mut output = ParseOutput::default();
    let mut saw_header = false;
    loop {
        // A batch of lines is deserialized on all cores, then taken in order.
        let batch: Vec<(u64, String)> = (lines.by_ref().take(FILES_PER_BATCH))
            .map(|(number, line)| line.map(|line| (number as u64 + 1, line)))
            .collect::<Result<_, _>>()
            .map_err(io_error)?;
        if batch.is_empty() {
            break;
        }
        let records: Vec<(u64, serde_json::Result<Record>)> = (batch.par_iter())
            .filter(|(_, line)| !line.is_empty())
            .map(|(number, line)| (*number, serde_json::from_str(line)))
            .collect();
        for (line_number, record) in records {
            let format_error = |message: String| ParseError::Format {
                path: path.to_owned(),
                line: line_number,
                source: serde::de::Error::custom(message),
            };
            let record = record.map_err(|source| ParseError::Format {
                path: path.to_owned(),
                line: line_number,
                source,
            })?;
            match record {
                Record::Header {
                    version,
                    skipped,
                    languages,
                } => {
                    if version != FORMAT_VERSION {
                        return Err(format_error(format!(
                            "format version {version}, this build reads {FORMAT_VERSION}"
                        )));
                    }
                    saw_header = true;
                    output.skipped = skipped;
                    output.languages = languages;
                }
                Record::File(record) => {
                    add_file(&mut output, record, facts).map_err(|what| {
                        format_error(format!("the {what} targets do not match the facts"))
                    })?;
                }
                Record::Skipped(file) => output.skipped_files.push(file),
            }
        }
    }
    if !saw_header {
        return Err(ParseError::Format {
            path: path.to_owned(),
            line: 1,
            source: serde::de::Error::custom("no header record: not a parse output"),
        });
    }
    Ok(output)
}

/// Adds a file's facts and rebuilds its edges; on a count mismatch, says which edges.
fn add_file(
    output: &mut ParseOutput,
    record: FileRecord<FileFacts, (Target, Via)>,
    keep: Facts,
) -> Result<(), &'static str> {
    let mut facts = record.facts;
    if record.call_targets.len() != facts.calls.len() {
        return Err("call");
    }
    if record.import_targets.len() != import_edge_keys(&facts).count() {
        return Err("import");
    }
    if record.inherit_targets.len() != facts.inherits.len() {
        return Err("inherit");
    }
    output.calls.extend(
        facts
            .calls
            .iter()
            .zip(record.call_targets)
            .map(|(call, (target, via))| CallEdge::of(call, target, via)),
    );
    output
        .imports
        .extend(import_edge_keys(&facts).zip(record.import_targets).map(
            |((import, name), (target, via))| {
                ImportEdge::of(&facts.path, import, name, target, via)
            },
        ));
    output.inherits.extend(
        facts
            .inherits
            .iter()
            .zip(record.inherit_targets)
            .map(|(inherit, (target, via))| InheritEdge::of(inherit, target, via)),
    );
    if keep == Facts::EdgesOnly {
        facts.calls = Vec::new();
        facts.imports = Vec::new();
        facts.inherits = Vec::new();
    }
    output.files.push(facts);
    Ok(())
}
