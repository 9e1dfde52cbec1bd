//! Located problems found while reading, and the strict/lenient policy.

use std::fmt;

/// A problem at a place in the input: what was expected and what was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What the reader expected there.
    pub expected: String,
    /// What it found, quoted and shortened.
    pub found: String,
}

impl Diagnostic {
    /// A diagnostic at `line:column` about the text `found`.
    pub fn new(line: usize, column: usize, expected: impl Into<String>, found: &str) -> Self {
        Diagnostic {
            line,
            column,
            expected: expected.into(),
            found: quote(found),
        }
    }

    /// A diagnostic at a byte offset of `text`.
    pub fn at_offset(text: &str, offset: usize, expected: impl Into<String>, found: &str) -> Self {
        let (line, column) = line_column(text, offset);
        Diagnostic::new(line, column, expected, found)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: expected {}, found {}",
            self.line, self.column, self.expected, self.found
        )
    }
}

/// A reading failure, located in a named input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{diagnostic}")]
pub struct ParseError {
    /// The file name, or `<stdin>`.
    pub source_name: String,
    /// Where and what.
    pub diagnostic: Diagnostic,
}

/// Quotes found text for a message, shortened to 60 characters.
pub fn quote(found: &str) -> String {
    if found.is_empty() {
        return "end of line".to_owned();
    }
    let mut short: String = found.chars().take(60).collect();
    if short.len() < found.len() {
        short.push('…');
    }
    format!("{short:?}")
}

/// 1-based line and character column of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Collects skipped lines in lenient mode; stops at the first in strict mode.
#[derive(Debug, Default)]
pub struct Diagnostics {
    strict: bool,
    warnings: Vec<Diagnostic>,
}

impl Diagnostics {
    /// A collector for the given mode.
    pub fn new(strict: bool) -> Self {
        Diagnostics {
            strict,
            warnings: Vec::new(),
        }
    }

    /// Records a skipped piece of input: an error in strict mode, a warning otherwise.
    pub fn skip(&mut self, diagnostic: Diagnostic) -> Result<(), Diagnostic> {
        if self.strict {
            return Err(diagnostic);
        }
        self.warnings.push(diagnostic);
        Ok(())
    }

    /// The warnings collected so far.
    pub fn into_warnings(self) -> Vec<Diagnostic> {
        self.warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_offsets() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        assert_eq!(line_column(text, 8), (3, 1));
        assert_eq!(line_column(text, 6), (2, 3));
    }

    #[test]
    fn strict_mode_stops_lenient_mode_collects() {
        let problem = Diagnostic::new(1, 2, "a port", "x");
        assert!(Diagnostics::new(true).skip(problem.clone()).is_err());
        let mut lenient = Diagnostics::new(false);
        assert!(lenient.skip(problem.clone()).is_ok());
        assert_eq!(lenient.into_warnings(), vec![problem]);
    }
}
