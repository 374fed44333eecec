//! Reading the tokens of an administrative statement: keywords, names, values, lists, and the error
//! OceanBase gives for anything else ("… near '<the rest>'").

use sqlparser::tokenizer::Token;

use crate::error::SqlError;

/// A position in a statement's tokens.
pub(super) struct Cursor {
    pub(super) tokens: Vec<Token>,
    pub(super) at: usize,
}

impl Cursor {
    pub(super) fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    pub(super) fn near(&self) -> SqlError {
        let rest: String = self.tokens[self.at.min(self.tokens.len())..]
            .iter()
            .map(super::render)
            .collect::<Vec<_>>()
            .join(" ");
        SqlError::syntax(format!(
            "check the manual that corresponds to your OceanBase version for the right syntax to use near '{rest}'"
        ))
    }

    /// Consumes the keyword if it is next.
    pub(super) fn keyword(&mut self, word: &str) -> bool {
        let matches = matches!(self.peek(), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word));
        if matches {
            self.at += 1;
        }
        matches
    }

    pub(super) fn expect(&mut self, word: &str) -> Result<(), SqlError> {
        if self.keyword(word) {
            Ok(())
        } else {
            Err(self.near())
        }
    }

    pub(super) fn equals(&mut self) {
        if self.peek() == Some(&Token::Eq) {
            self.at += 1;
        }
    }

    pub(super) fn string(&mut self) -> Result<String, SqlError> {
        match self.peek().cloned() {
            Some(Token::SingleQuotedString(s) | Token::DoubleQuotedString(s)) => {
                self.at += 1;
                Ok(s)
            }
            _ => Err(self.near()),
        }
    }

    /// A name: a bare or backquoted word, or a quoted string.
    pub(super) fn name(&mut self) -> Result<String, SqlError> {
        match self.peek().cloned() {
            Some(Token::Word(w)) => {
                self.at += 1;
                Ok(w.value)
            }
            Some(Token::SingleQuotedString(s)) => {
                self.at += 1;
                Ok(s)
            }
            _ => Err(self.near()),
        }
    }

    /// A parameter value: a string, a number or a bare word.
    pub(super) fn value(&mut self) -> Result<String, SqlError> {
        match self.peek().cloned() {
            Some(Token::Number(n, _)) => {
                self.at += 1;
                Ok(n)
            }
            _ => self.name(),
        }
    }

    pub(super) fn names(&mut self) -> Result<Vec<String>, SqlError> {
        let mut names = vec![self.name()?];
        while self.peek() == Some(&Token::Comma) {
            self.at += 1;
            names.push(self.name()?);
        }
        Ok(names)
    }

    /// `TENANT [=] t1[, t2…]` if present.
    pub(super) fn tenant_list(&mut self) -> Result<Option<Vec<String>>, SqlError> {
        if self.keyword("TENANT") {
            self.equals();
            Ok(Some(self.names()?))
        } else {
            Ok(None)
        }
    }

    /// `TENANT [=] t` if present.
    pub(super) fn tenant(&mut self) -> Result<Option<String>, SqlError> {
        if self.keyword("TENANT") {
            self.equals();
            Ok(Some(self.name()?))
        } else {
            Ok(None)
        }
    }

    /// `DESCRIPTION [=] '…'` if present.
    pub(super) fn description(&mut self) -> Result<Option<String>, SqlError> {
        if self.keyword("DESCRIPTION") {
            self.equals();
            Ok(Some(self.string()?))
        } else {
            Ok(None)
        }
    }

    pub(super) fn end(&mut self) -> Result<(), SqlError> {
        if self.peek() == Some(&Token::SemiColon) {
            self.at += 1;
        }
        if self.peek().is_some() {
            Err(self.near())
        } else {
            Ok(())
        }
    }
}
