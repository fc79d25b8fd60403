//! Storing a [`ParseOutput`] in a file: JSON lines, one compact record per line — a header
//! (format version, skip counts, language statistics), then each file's facts, each skipped
//! file, and each call, import and inheritance edge. A reader can stream it line by line; no
//! compression crate is a dependency, so a caller that wants it compresses the file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ParseError;
use super::model::{
    CallEdge, FileFacts, ImportEdge, InheritEdge, Language, LanguageStats, ParseOutput, SkipReason,
    SkippedFile,
};

/// Version of the record layout; [`read_output`] refuses other versions.
const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum RecordRef<'a> {
    Header {
        version: u32,
        skipped: &'a BTreeMap<SkipReason, u64>,
        languages: &'a BTreeMap<Language, LanguageStats>,
    },
    File(&'a FileFacts),
    Skipped(&'a SkippedFile),
    Call(&'a CallEdge),
    Import(&'a ImportEdge),
    Inherit(&'a InheritEdge),
}

#[derive(Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum Record {
    Header {
        version: u32,
        skipped: BTreeMap<SkipReason, u64>,
        languages: BTreeMap<Language, LanguageStats>,
    },
    File(FileFacts),
    Skipped(SkippedFile),
    Call(CallEdge),
    Import(ImportEdge),
    Inherit(InheritEdge),
}

/// Writes `output` to `path` (created or truncated).
pub fn write_output(path: &Path, output: &ParseOutput) -> Result<(), ParseError> {
    let io_error = |source| ParseError::Io {
        path: path.to_owned(),
        source,
    };
    let mut writer = BufWriter::new(File::create(path).map_err(io_error)?);
    let header = RecordRef::Header {
        version: FORMAT_VERSION,
        skipped: &output.skipped,
        languages: &output.languages,
    };
    let records = std::iter::once(header)
        .chain(output.files.iter().map(RecordRef::File))
        .chain(output.skipped_files.iter().map(RecordRef::Skipped))
        .chain(output.calls.iter().map(RecordRef::Call))
        .chain(output.imports.iter().map(RecordRef::Import))
        .chain(output.inherits.iter().map(RecordRef::Inherit));
    for record in records {
        serde_json::to_writer(&mut writer, &record)
            .map_err(|e| io_error(std::io::Error::other(e)))?;
        writer.write_all(b"\n").map_err(io_error)?;
    }
    writer.flush().map_err(io_error)
}

/// Reads a file written by [`write_output`].
pub fn read_output(path: &Path) -> Result<ParseOutput, ParseError> {
    let io_error = |source| ParseError::Io {
        path: path.to_owned(),
        source,
    };
    let reader = BufReader::new(File::open(path).map_err(io_error)?);
    let mut output = ParseOutput::default();
    let mut saw_header = false;
    for (number, line) in reader.lines().enumerate() {
        let line = line.map_err(io_error)?;
        if line.is_empty() {
            continue;
        }
        let line_number = number as u64 + 1;
        let record: Record = serde_json::from_str(&line).map_err(|source| ParseError::Format {
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
                    return Err(ParseError::Format {
                        path: path.to_owned(),
                        line: line_number,
                        source: serde::de::Error::custom(format!(
                            "format version {version}, this build reads {FORMAT_VERSION}"
                        )),
                    });
                }
                saw_header = true;
                output.skipped = skipped;
                output.languages = languages;
            }
            Record::File(facts) => output.files.push(facts),
            Record::Skipped(file) => output.skipped_files.push(file),
            Record::Call(edge) => output.calls.push(edge),
            Record::Import(edge) => output.imports.push(edge),
            Record::Inherit(edge) => output.inherits.push(edge),
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
