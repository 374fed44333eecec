//! Keeping secrets out of text that may reach logs, status, events or metrics: a [`Redactor`] hides a
//! cluster's passwords and anything shaped like an access key or a password clause, and a destination is
//! recorded without its keys or user part ([`strip_keys`]).

/// Replaces secret values, and anything shaped like an access key or a password clause, in text that may
/// reach logs, status, events or metrics.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

/// What precedes an object-storage key in a destination's parameters.
const KEY_MARKERS: [&str; 4] = ["access_key=", "access_id=", "ACCESS_KEY=", "ACCESS_ID="];
/// What precedes a quoted password in a statement.
const PASSWORD_CLAUSES: [&str; 2] = ["IDENTIFIED BY ", "identified by "];

/// What redacted text shows instead of a secret.
pub const REDACTED: &str = "<redacted>";

impl Redactor {
    /// A redactor that also hides these exact values.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        // Longer first, so that a secret containing another is hidden whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self { secrets }
    }

    /// The text with every secret hidden.
    pub fn redact(&self, text: &str) -> String {
        // Most text a read decodes (paths, comments) holds nothing to hide: checked without copying.
        if !self.may_hide(text) {
            return text.to_string();
        }
        self.redact_each(text)
    }

    /// Whether any rule of [`Self::redact_each`] could change `text`: a secret in it, a key or password
    /// marker, or a URI (whose user part, ending in `@`, is hidden).
    fn may_hide(&self, text: &str) -> bool {
        self.secrets.iter().any(|s| text.contains(s.as_str()))
            || KEY_MARKERS.iter().any(|m| text.contains(m))
            || PASSWORD_CLAUSES.iter().any(|c| text.contains(c))
            || (text.contains("://") && text.contains('@'))
    }

    /// Every rule applied in turn.
    fn redact_each(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            out = out.replace(secret.as_str(), REDACTED);
        }
        for key in KEY_MARKERS {
            out = redact_after(&out, key, |c| {
                c == '&' || c == '\'' || c == '"' || c.is_whitespace()
            });
        }
        for clause in PASSWORD_CLAUSES {
            out = redact_quoted_after(&out, clause);
        }
        redact_user_parts(&out)
    }
}

/// Where a URI's user part (`user:password@` after `scheme://`) lies, if it has one: the bytes from just
/// after `://` to the `@` inclusive. Object-storage keys belong in a Secret, never there.
pub fn user_part(uri: &str) -> Option<std::ops::Range<usize>> {
    let start = uri.find("://")? + 3;
    let authority_end = uri[start..]
        .find(['/', '?', '#'])
        .map_or(uri.len(), |i| start + i);
    let at = uri[start..authority_end].rfind('@')?;
    Some(start..start + at + 1)
}

/// Hides the user part of every URI in `text`.
fn redact_user_parts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        // The URI runs to the next blank or quote.
        let end = rest[scheme_end..]
            .find(|c: char| c.is_whitespace() || c == '\'' || c == '"')
            .map_or(rest.len(), |i| scheme_end + i);
        let uri = &rest[..end];
        match user_part(uri) {
            Some(range) => {
                out.push_str(&uri[..range.start]);
                out.push_str(REDACTED);
                out.push('@');
                out.push_str(&uri[range.end..]);
            }
            None => out.push_str(uri),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Hides what follows each `marker` up to a character that `ends`.
fn redact_after(text: &str, marker: &str, ends: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let (before, after) = rest.split_at(at + marker.len());
        out.push_str(before);
        let end = after.find(&ends).unwrap_or(after.len());
        if end > 0 {
            out.push_str(REDACTED);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Hides the quoted string after each `clause` (e.g. `IDENTIFIED BY '…'`).
fn redact_quoted_after(text: &str, clause: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(clause) {
        let (before, after) = rest.split_at(at + clause.len());
        out.push_str(before);
        let Some(quote) = after.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            rest = after;
            continue;
        };
        // Skip to the closing quote, honouring doubled quotes and backslash escapes.
        let body = &after[1..];
        let mut end = body.len();
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\\' {
                chars.next();
            } else if c == quote {
                if chars.peek().map(|(_, n)| *n) == Some(quote) {
                    chars.next();
                } else {
                    end = i;
                    break;
                }
            }
        }
        out.push(quote);
        out.push_str(REDACTED);
        rest = body.get(end..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// A destination as the operator records it: without `access_id` / `access_key` and without a user part.
pub fn strip_keys(uri: &str) -> String {
    let mut uri = uri.to_string();
    if let Some(range) = user_part(&uri) {
        uri.replace_range(range, "");
    }
    let Some((base, query)) = uri.split_once('?') else {
        return uri;
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or_default().to_lowercase();
            key != "access_id" && key != "access_key"
        })
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_with_nothing_to_hide_skips_the_rules_and_the_rest_gets_each_of_them() {
        let redactor = Redactor::new(["s3cret".to_string()]);
        for text in [
            "",
            "file:///backup/data/tenant1",
            "backup failed: timeout",
            "oss://b/p?host=h&access_id=AK&access_key=SK",
            "user@host without a scheme",
            "s3://me:pw@host/bucket",
            "the password s3cret leaked",
            "ALTER USER u IDENTIFIED BY 'x'",
        ] {
            assert_eq!(redactor.redact(text), redactor.redact_each(text), "{text}");
        }
        assert!(!redactor.may_hide("file:///backup/data/tenant1"));
        assert!(redactor.may_hide("s3://me:pw@host/bucket"));
    }

    #[test]
    fn redaction_hides_secrets_keys_and_passwords() {
        let redactor = Redactor::new(["s3cr3t".to_string(), String::new()]);
        let text = "near 'SET ENCRYPTION ON IDENTIFIED BY 'p''w' ONLY' uri oss://b?host=h&access_id=AK&access_key=SK x s3cr3t";
        let redacted = redactor.redact(text);
        for leaked in ["p''w", "AK", "SK", "s3cr3t"] {
            assert!(!redacted.contains(leaked), "{leaked} in {redacted}");
        }
        assert!(
            redacted.contains("access_id=<redacted>&access_key=<redacted>"),
            "{redacted}"
        );
        assert_eq!(redactor.redact("nothing here"), "nothing here");
    }

    #[test]
    fn a_uri_user_part_is_found_only_before_the_path_and_is_redacted() {
        assert_eq!(user_part("oss://ID:KEY@bucket/p?host=h"), Some(6..13));
        assert_eq!(user_part("file:///backup/a@b"), None);
        assert_eq!(user_part("oss://bucket/p@x?host=h"), None);
        let text = "OceanBase 9070 for 'oss://AKID:S3CRET@bucket/p?host=h' and s3://k@b/q";
        let redacted = Redactor::default().redact(text);
        assert_eq!(
            redacted,
            "OceanBase 9070 for 'oss://<redacted>@bucket/p?host=h' and s3://<redacted>@b/q"
        );
    }

    #[test]
    fn a_user_part_is_stripped_from_recorded_destinations() {
        assert_eq!(
            strip_keys("oss://ID:KEY@bucket/p?host=h&access_id=A"),
            "oss://bucket/p?host=h"
        );
        assert_eq!(strip_keys("file:///backup/a@b"), "file:///backup/a@b");
    }

    #[test]
    fn keys_are_stripped_from_recorded_destinations() {
        assert_eq!(
            strip_keys("oss://b/p?host=h&access_id=A&access_key=K"),
            "oss://b/p?host=h"
        );
        assert_eq!(
            strip_keys("oss://b/p?access_id=A&access_key=K"),
            "oss://b/p"
        );
        assert_eq!(strip_keys("file:///backup"), "file:///backup");
    }
}
