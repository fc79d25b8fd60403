//! Plain-text tables for the command line: rows as left-aligned columns two spaces apart, as
//! `status` and the workloads' own commands print them.

use std::fmt::Write as _;

/// `rows` (the first one usually a header) as aligned columns, one line each, trailing spaces
/// trimmed. A short row leaves its missing cells empty.
pub fn aligned<R: AsRef<[String]>>(rows: &[R]) -> String {
    let columns = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .map(|r| r.as_ref().get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .as_ref()
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::aligned;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let rows = [
            vec!["NAME".to_owned(), "N".to_owned()],
            vec!["a".to_owned(), "12345".to_owned()],
            vec!["wider".to_owned(), String::new()],
        ];
        assert_eq!(aligned(&rows), "NAME   N\na      12345\nwider\n");
    }
}
