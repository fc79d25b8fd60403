//! A big parse's graph a part at a time, so that writing it holds the rows of one part, not of
//! the whole repository. A part is a run of consecutive files of the output with every node and
//! relationship that belongs to them ([`RowLookups::rows_of_steps`]: each file's rows are built
//! from its own facts and the lookups of the whole parse). Which calls, imports and inherits
//! belong to each part is found in one pass over the output, so building every part costs
//! what building the whole graph costs, however many parts there are. A Directory or External
//! node goes with the first part that points at it. The union of the parts is
//! [`GraphRows::from_parse`].

use std::collections::{HashMap, HashSet};

use super::rows::{FileSteps, RowLookups};
use super::{GraphRows, Label};
use crate::parse::ParseOutput;

/// The parts of one parse's graph, in order (an iterator of [`GraphRows`]).
pub struct Parts<'a> {
    lookups: RowLookups<'a>,
    /// The part of each file (files in the order of the output, `files_per_part` a part).
    part_of: HashMap<&'a str, usize>,
    /// The steps of each part (taken when the part is built).
    steps: Vec<FileSteps>,
    next: usize,
    /// Directory and External nodes already in an earlier part.
    fileless: HashSet<(Label, String)>,
}

impl<'a> Parts<'a> {
    /// The graph of `output` in parts of `files_per_part` files (at least one).
    pub fn new(output: &'a ParseOutput, files_per_part: usize) -> Self {
        let files_per_part = files_per_part.max(1);
        let lookups = RowLookups::new(output);
        let part_of: HashMap<&str, usize> = (output.files.iter().enumerate())
            .map(|(i, file)| (file.path.as_str(), i / files_per_part))
            .collect();
        let parts = output.files.len().div_ceil(files_per_part);
        let steps = lookups.steps_by_group(parts, |file| part_of.get(file).copied());
        Self {
            lookups,
            part_of,
            steps,
            next: 0,
            fileless: HashSet::new(),
        }
    }

    /// How many parts there are.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether there is no part (no file).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl Iterator for Parts<'_> {
    type Item = GraphRows;

    fn next(&mut self) -> Option<GraphRows> {
        let index = self.next;
        let steps = std::mem::take(self.steps.get_mut(index)?);
        self.next += 1;
        let part_of = &self.part_of;
        let mut rows = self
            .lookups
            .rows_of_steps(|file| part_of.get(file) == Some(&index), &steps);
        for label in [Label::Directory, Label::External] {
            if let Some(list) = rows.nodes.get_mut(&label) {
                list.retain(|row| self.fileless.insert((label, row.key.clone())));
                if list.is_empty() {
                    rows.nodes.remove(&label);
                }
            }
        }
        Some(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphDump;
    use crate::parse::parse_sources;

    /// All the parts' rows together, in the whole graph's order.
    fn union(parts: Parts<'_>) -> GraphRows {
        let mut all = GraphRows::default();
        for rows in parts {
            for (label, list) in rows.nodes {
                all.nodes.entry(label).or_default().extend(list);
            }
            for (rel, list) in rows.relationships {
                all.relationships.entry(rel).or_default().extend(list);
            }
        }
        all
    }

    #[test]
    fn the_parts_together_are_the_whole_graph_at_every_part_size() {
        let out = parse_sources(&[
            (
                "app/main.py",
                "import os\nfrom app.util import helper\n\n\nclass Main(Base):\n    def run(self):\n        helper()\n        os.getcwd()\n\n\nhelper()\n",
            ),
            (
                "app/util.py",
                "import os\n\n\ndef helper():\n    return os.path.join('a', 'b')\n",
            ),
            (
                "app/base.py",
                "class Base:\n    def run(self):\n        pass\n",
            ),
            ("lib/shapes.rs", "pub struct Square { side: u32 }\n"),
            (
                "lib/area.rs",
                "use crate::shapes::Square;\n\ntrait Area { fn area(&self) -> u32; }\n\nimpl Area for Square {\n    fn area(&self) -> u32 { helper() }\n}\n\nfn helper() -> u32 { 4 }\n",
            ),
            (
                "cmd/server.go",
                "package cmd\n\nimport \"fmt\"\n\nfunc (s *Server) Start() { fmt.Println(\"up\"); s.stop() }\n",
            ),
            (
                "cmd/types.go",
                "package cmd\n\ntype Server struct{}\n\nfunc (s *Server) stop() {}\n",
            ),
            (
                "web/app.ts",
                "import { helper } from './util';\nexport class App extends Base { run() { helper(); console.log('x'); } }\n",
            ),
            ("web/util.ts", "export function helper() { return 1; }\n"),
        ]);
        assert!(!out.inherits.is_empty() && !out.calls.is_empty() && !out.imports.is_empty());
        let rows = GraphRows::from_parse(&out);
        let whole = GraphDump::from_rows(&rows);
        for size in 1..=out.files.len() + 1 {
            let parts = Parts::new(&out, size);
            assert_eq!(parts.len(), out.files.len().div_ceil(size));
            let together = union(parts);
            assert_eq!(
                (together.node_count(), together.relationship_count()),
                (rows.node_count(), rows.relationship_count()),
                "{size} files per part: no row twice"
            );
            assert_eq!(
                GraphDump::from_rows(&together),
                whole,
                "{size} files per part"
            );
        }
    }
}
