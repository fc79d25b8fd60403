//! Redaction of URL userinfo: the one place that knows how a URL's user name or password is
//! cut out of a message before it is logged or put in an error.

/// Replaces the userinfo of every `scheme://userinfo@host` in `text` with `***`, so that a URL
/// (or a message quoting one) can be shown without a user name or password.
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| {
                c == '/' || c == '?' || c == '#' || c.is_whitespace() || "'\"`<>()".contains(c)
            })
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(user_end) => {
                out.push_str("***");
                out.push_str(&authority[user_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_handles_messages_and_edge_cases() {
        assert_eq!(
            redact_userinfo("failed to fetch 'https://a:b@h/x' and ssh://git@h:22/y."),
            "failed to fetch 'https://***@h/x' and ssh://***@h:22/y."
        );
        assert_eq!(redact_userinfo("https://h/x@y"), "https://h/x@y");
        assert_eq!(redact_userinfo("no url"), "no url");
        assert_eq!(redact_userinfo("https://u:p@@h"), "https://***@h");
        assert_eq!(redact_userinfo("x://"), "x://");
    }
}
