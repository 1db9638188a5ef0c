//! Every text the configuration was read from, so that any position can be
//! turned back into `FILE:LINE:COLUMN` and a snippet long after parsing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range `start..end` in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start, end }
    }
}

/// A value together with the place it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Spanned<T> {
        Spanned { value, span }
    }
}

#[derive(Debug, Clone)]
struct SourceFile {
    path: PathBuf,
    /// Shared so the parser can walk one file's lines while included files
    /// are being added to the same [`Sources`].
    text: Arc<str>,
    included_from: Option<Span>,
    /// Byte offset of the start of every line; `line_starts[0] == 0`.
    line_starts: Vec<usize>,
}

/// All files read while loading a configuration (plus virtual texts such as
/// command-line overrides), so diagnostics can quote them.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    /// Registers a file's text. `included_from` is the span of the include
    /// line that pulled it in, if any.
    pub fn add(
        &mut self,
        path: impl Into<PathBuf>,
        text: impl Into<Arc<str>>,
        included_from: Option<Span>,
    ) -> FileId {
        let text: Arc<str> = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile {
            path: path.into(),
            text,
            included_from,
            line_starts,
        });
        id
    }

    /// Registers text that is not a file (e.g. a command-line argument) so
    /// diagnostics can point into it.
    pub fn add_virtual(&mut self, name: &str, text: &str) -> FileId {
        self.add(name, text, None)
    }

    fn file(&self, file: FileId) -> Option<&SourceFile> {
        self.files.get(file.0 as usize)
    }

    /// The path as given (top-level file) or as resolved (included file).
    pub fn path(&self, file: FileId) -> &Path {
        self.file(file)
            .map(|f| f.path.as_path())
            .unwrap_or(Path::new("<unknown>"))
    }

    /// The directory relative option values (paths) from `file` are resolved
    /// against. It is the empty path for a file in the working directory, which
    /// `Path::join` treats as "relative to the working directory".
    pub fn dir_of(&self, file: FileId) -> &Path {
        self.path(file).parent().unwrap_or(Path::new(""))
    }

    pub fn text(&self, file: FileId) -> &str {
        self.file(file).map(|f| &*f.text).unwrap_or("")
    }

    pub(crate) fn text_arc(&self, file: FileId) -> Arc<str> {
        self.file(file)
            .map(|f| f.text.clone())
            .unwrap_or_else(|| Arc::from(""))
    }

    /// The span of the include line that read `file`, `None` for the
    /// top-level file and virtual sources.
    pub fn included_from(&self, file: FileId) -> Option<Span> {
        self.file(file).and_then(|f| f.included_from)
    }

    /// Number of lines in `file` (a final line without `\n` counts).
    pub fn line_count(&self, file: FileId) -> usize {
        self.file(file).map_or(0, |f| f.line_starts.len())
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// 1-based line and 1-based character (Unicode scalar) column of the start
    /// of `span`. Out-of-range spans are clamped rather than panicking.
    pub fn line_col(&self, span: Span) -> (u32, u32) {
        let Some(f) = self.file(span.file) else {
            return (1, 1);
        };
        let pos = span.start.min(f.text.len());
        let line = f.line_starts.partition_point(|&s| s <= pos).max(1) - 1;
        let start = f.line_starts[line].max(bom_len(&f.text, line, pos));
        let col = f.text.as_bytes()[start..pos]
            .iter()
            .filter(|&&b| (b & 0xC0) != 0x80)
            .count();
        (to_u32(line + 1), to_u32(col + 1))
    }

    /// The text of the line containing byte `pos` (without its `\n`), and the
    /// byte offset where that line starts.
    pub fn line_text(&self, file: FileId, pos: usize) -> (&str, usize) {
        let Some(f) = self.file(file) else {
            return ("", 0);
        };
        let pos = pos.min(f.text.len());
        let line = f.line_starts.partition_point(|&s| s <= pos).max(1) - 1;
        let start = f.line_starts[line].max(bom_len(&f.text, line, pos));
        let end = f
            .line_starts
            .get(line + 1)
            .map(|&e| e - 1)
            .unwrap_or(f.text.len());
        let text = f.text.get(start..end).unwrap_or("");
        // A CRLF file's '\r' ends the line; it is not part of what the user wrote.
        (text.strip_suffix('\r').unwrap_or(text), start)
    }
}

/// Length of the byte order mark that starts `text` when `pos` on line `line` (0-based) lies
/// after it, else 0: columns and snippets then count from the first character after the mark,
/// as an editor shows it.
fn bom_len(text: &str, line: usize, pos: usize) -> usize {
    let n = crate::parse::BOM.len_utf8();
    if line == 0 && pos >= n && text.starts_with(crate::parse::BOM) {
        n
    } else {
        0
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let mut s = Sources::new();
        let f = s.add("a.cfg", "ab\r\nnamé = x\n", None);
        assert_eq!(s.line_col(Span::new(f, 0, 1)), (1, 1));
        assert_eq!(s.line_col(Span::new(f, 4, 5)), (2, 1));
        // "namé " is 5 characters but 6 bytes; '=' is at byte 10.
        assert_eq!(&s.text(f)[10..11], "=");
        assert_eq!(s.line_col(Span::new(f, 10, 11)), (2, 6));
        assert_eq!(s.line_text(f, 10), ("namé = x", 4));
        assert_eq!(s.line_text(f, 1), ("ab", 0));
    }

    #[test]
    fn a_byte_order_mark_is_not_a_column() {
        let mut s = Sources::new();
        let f = s.add("a.cfg", "\u{FEFF}[map]\nx\n", None);
        assert_eq!(s.line_col(Span::new(f, 3, 4)), (1, 1));
        assert_eq!(s.line_col(Span::new(f, 4, 5)), (1, 2));
        assert_eq!(s.line_text(f, 3), ("[map]", 3));
        assert_eq!(s.line_col(Span::new(f, 9, 10)), (2, 1));
    }

    #[test]
    fn out_of_range_spans_are_clamped() {
        let mut s = Sources::new();
        let f = s.add("a.cfg", "x\ny", None);
        assert_eq!(s.line_col(Span::new(f, 100, 200)), (2, 2));
        assert_eq!(s.line_col(Span::new(FileId(9), 0, 0)), (1, 1));
        assert_eq!(s.path(FileId(9)), Path::new("<unknown>"));
    }

    #[test]
    fn dir_of_is_parent_or_empty() {
        let mut s = Sources::new();
        let a = s.add("stage.cfg", "", None);
        let b = s.add("conf/inc/x.cfg", "", None);
        assert_eq!(s.dir_of(a), Path::new(""));
        assert_eq!(s.dir_of(b), Path::new("conf/inc"));
        assert_eq!(s.dir_of(a).join("s.lua"), Path::new("s.lua"));
    }
}
