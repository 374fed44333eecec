//! Splitting a SQL script (a `mysqldump` or `seekdb-dump` file) into statements as the `mysql` client does:
//! at `;` outside quotes, backquotes and comments. Fed in pieces, so a file of any size streams through.
//! And reading a name in a statement's text ([`identifier`], backquoted or bare): the inverse of
//! [`super::render::quote_identifier`].

use super::LogicalError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Normal,
    /// Inside `'…'`, `"…"` or `` `…` ``.
    Quoted(u8),
    /// Just after a backslash inside `'…'` or `"…"`.
    Escaped(u8),
    LineComment,
    BlockComment,
}

/// A statement splitter: [`Splitter::push`] bytes, take the statements it completes.
#[derive(Debug)]
pub struct Splitter {
    state: State,
    statement: Vec<u8>,
    /// Bytes of the statement under way that are not whitespace or comment.
    meaningful: bool,
    line: usize,
    /// Bytes held back until the next piece shows what they mean.
    carry: Vec<u8>,
}

impl Default for Splitter {
    fn default() -> Self {
        Self {
            state: State::Normal,
            statement: Vec::new(),
            meaningful: false,
            line: 1,
            carry: Vec::new(),
        }
    }
}

impl Splitter {
    /// Consumes `bytes`, appending each statement they complete (without its `;`) to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<String>) -> Result<(), LogicalError> {
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(bytes);
        let consumed = self.run(&data, out, false)?;
        self.carry = data[consumed..].to_vec();
        Ok(())
    }

    /// Splits `bytes`; returns how many it consumed — all but a tail whose meaning depends on bytes not yet
    /// seen (`-` before `- `, `/` before `*`, `*` before `/`), unless `last`.
    fn run(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<String>,
        last: bool,
    ) -> Result<usize, LogicalError> {
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let next = bytes.get(i + 1).copied();
            let third = bytes.get(i + 2).copied();
            let short = |wanted: usize| !last && i + wanted >= bytes.len();
            match (self.state, b) {
                (State::Normal, b'-') if short(2) && (next.is_none() || next == Some(b'-')) => {
                    return Ok(i);
                }
                (State::Normal, b'/') if short(2) => return Ok(i),
                (State::BlockComment, b'*') if short(1) => return Ok(i),
                _ => {}
            }
            if b == b'\n' {
                self.line += 1;
            }
            match self.state {
                State::LineComment => {
                    if b == b'\n' {
                        self.state = State::Normal;
                        if self.meaningful {
                            self.statement.push(b);
                        }
                    }
                }
                State::BlockComment => {
                    if b == b'*' && next == Some(b'/') {
                        i += 1;
                        self.state = State::Normal;
                    }
                }
                State::Escaped(quote) => {
                    self.statement.push(b);
                    self.state = State::Quoted(quote);
                }
                State::Quoted(quote) => {
                    self.statement.push(b);
                    if b == b'\\' && quote != b'`' {
                        self.state = State::Escaped(quote);
                    } else if b == quote {
                        // A doubled quote stays inside; it is seen as a close and a reopen.
                        self.state = State::Normal;
                    }
                }
                State::Normal => match b {
                    b'#' => self.state = State::LineComment,
                    b'-' if next == Some(b'-') && third.is_none_or(|c| c.is_ascii_whitespace()) => {
                        self.state = State::LineComment;
                    }
                    // `/*!…*/` is executable in MySQL's dialect: it stays in the statement.
                    b'/' if next == Some(b'*') && third != Some(b'!') => {
                        i += 1;
                        self.state = State::BlockComment;
                    }
                    b';' => self.finish(out)?,
                    _ => {
                        if !b.is_ascii_whitespace() {
                            self.meaningful = true;
                        }
                        if matches!(b, b'\'' | b'"' | b'`') {
                            self.state = State::Quoted(b);
                        }
                        if self.meaningful {
                            self.statement.push(b);
                        }
                    }
                },
            }
            i += 1;
        }
        Ok(bytes.len())
    }

    /// The last statement, if the script does not end with `;`; an error if it ends inside a quote.
    pub fn end(&mut self, out: &mut Vec<String>) -> Result<(), LogicalError> {
        let rest = std::mem::take(&mut self.carry);
        self.run(&rest, out, true)?;
        if matches!(
            self.state,
            State::Quoted(_) | State::Escaped(_) | State::BlockComment
        ) {
            return Err(LogicalError::Format(format!(
                "the script ends inside a quote or comment (line {})",
                self.line
            )));
        }
        self.finish(out)
    }

    fn finish(&mut self, out: &mut Vec<String>) -> Result<(), LogicalError> {
        if self.meaningful {
            let statement =
                String::from_utf8(std::mem::take(&mut self.statement)).map_err(|_| {
                    LogicalError::Format(format!(
                        "the statement ending at line {} is not UTF-8",
                        self.line
                    ))
                })?;
            let statement = statement.trim_end().to_string();
            if statement.to_ascii_uppercase().starts_with("DELIMITER") {
                return Err(LogicalError::Refused(format!(
                    "line {}: DELIMITER and stored programs are not supported",
                    self.line
                )));
            }
            out.push(statement);
        }
        self.statement.clear();
        self.meaningful = false;
        Ok(())
    }
}

/// A leading identifier, backquoted or bare, and the text after it.
pub(crate) fn identifier(text: &str) -> Option<(String, &str)> {
    let text = text.trim_start();
    if let Some(quoted) = text.strip_prefix('`') {
        let mut name = String::new();
        let mut chars = quoted.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if c == '`' {
                if chars.peek().map(|(_, n)| *n) == Some('`') {
                    chars.next();
                    name.push('`');
                } else {
                    return Some((name, &quoted[at + 1..]));
                }
            } else {
                name.push(c);
            }
        }
        None
    } else {
        let end = text
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(text.len());
        (end > 0).then(|| (text[..end].to_string(), &text[end..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pieces: &[&str]) -> Vec<String> {
        let mut splitter = Splitter::default();
        let mut out = Vec::new();
        for piece in pieces {
            splitter.push(piece.as_bytes(), &mut out).expect("splits");
        }
        splitter.end(&mut out).expect("ends");
        out
    }

    #[test]
    fn statements_end_at_semicolons_outside_quotes_and_comments() {
        let script = "-- a comment; not a statement\nSET NAMES utf8mb4;\n# another;\n\
                      INSERT INTO `a;b` VALUES ('x;y', \"it\\\"s;\", 'don''t;'); /* c; */ \
                      CREATE TABLE t (\n  id INT -- trailing; comment\n);\nSELECT 1";
        assert_eq!(
            split(&[script]),
            vec![
                "SET NAMES utf8mb4",
                "INSERT INTO `a;b` VALUES ('x;y', \"it\\\"s;\", 'don''t;')",
                "CREATE TABLE t (\n  id INT \n)",
                "SELECT 1",
            ]
        );
    }

    #[test]
    fn a_script_split_at_any_byte_gives_the_same_statements() {
        let script = "INSERT INTO t VALUES ('a\\';b', `c``;d`);\n/* x; */ SELECT 2;-- end\n";
        let whole = split(&[script]);
        for cut in 0..script.len() {
            assert_eq!(
                split(&[&script[..cut], &script[cut..]]),
                whole,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn unfinished_quotes_and_delimiters_are_refused() {
        let mut splitter = Splitter::default();
        let mut out = Vec::new();
        splitter.push(b"SELECT 'open", &mut out).expect("pushes");
        assert!(splitter.end(&mut out).is_err());
        let mut splitter = Splitter::default();
        assert!(splitter.push(b"DELIMITER //\n;", &mut out).is_err());
    }
}
