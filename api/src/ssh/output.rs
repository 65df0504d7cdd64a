//! Turning a command's output chunks into lines for the live log and a
//! bounded copy for the result.

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A line longer than this is passed on in pieces, so one endless line cannot
/// grow memory without bound.
const MAX_LINE: usize = 64 * 1024;

/// One stream of one command: splits chunks into lines for the callback and
/// keeps the last `limit` bytes for the result (a failing command's cause is
/// usually at the end).
pub(crate) struct StreamOutput {
    stream: Stream,
    partial: Vec<u8>,
    kept: Vec<u8>,
    limit: usize,
    truncated: bool,
}

impl StreamOutput {
    pub(crate) fn new(stream: Stream, limit: usize) -> Self {
        Self {
            stream,
            partial: Vec::new(),
            kept: Vec::new(),
            limit,
            truncated: false,
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8], on_line: &mut dyn FnMut(Stream, &str)) {
        self.keep(chunk);
        let mut rest = chunk;
        while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
            self.partial.extend_from_slice(&rest[..newline]);
            self.emit(on_line);
            rest = &rest[newline + 1..];
        }
        self.partial.extend_from_slice(rest);
        if self.partial.len() >= MAX_LINE {
            self.emit(on_line);
        }
    }

    /// Flushes an unterminated last line and returns the kept text and whether
    /// its beginning was dropped.
    pub(crate) fn finish(mut self, on_line: &mut dyn FnMut(Stream, &str)) -> (String, bool) {
        if !self.partial.is_empty() {
            self.emit(on_line);
        }
        if self.kept.len() > self.limit {
            self.kept.drain(..self.kept.len() - self.limit);
            self.truncated = true;
        }
        (
            String::from_utf8_lossy(&self.kept).into_owned(),
            self.truncated,
        )
    }

    fn emit(&mut self, on_line: &mut dyn FnMut(Stream, &str)) {
        let line = String::from_utf8_lossy(&self.partial);
        on_line(self.stream, line.strip_suffix('\r').unwrap_or(&line));
        self.partial.clear();
    }

    fn keep(&mut self, chunk: &[u8]) {
        self.kept.extend_from_slice(chunk);
        // Trim only once twice the limit is held, so trimming stays amortised O(1).
        if self.kept.len() > 2 * self.limit {
            self.kept.drain(..self.kept.len() - self.limit);
            self.truncated = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]], limit: usize) -> (Vec<String>, String, bool) {
        let mut lines = Vec::new();
        let mut sink = |_: Stream, line: &str| lines.push(line.to_owned());
        let mut out = StreamOutput::new(Stream::Stdout, limit);
        for chunk in chunks {
            out.push(chunk, &mut sink);
        }
        let (kept, truncated) = out.finish(&mut sink);
        (lines, kept, truncated)
    }

    #[test]
    fn lines_split_across_chunks_are_joined() {
        let (lines, kept, truncated) = run(&[b"one\ntw", b"o\r\nthree"], 100);
        assert_eq!(lines, ["one", "two", "three"]);
        assert_eq!(kept, "one\ntwo\r\nthree");
        assert!(!truncated);
    }

    #[test]
    fn only_the_tail_is_kept_beyond_the_limit() {
        let (lines, kept, truncated) = run(&[b"aaaa\n", b"bbbb\n", b"cccc\n"], 5);
        assert_eq!(lines.len(), 3);
        assert_eq!(kept, "cccc\n");
        assert!(truncated);
    }

    #[test]
    fn an_endless_line_is_passed_on_in_pieces() {
        let chunk = vec![b'x'; MAX_LINE + 1];
        let (lines, _, _) = run(&[&chunk], 10);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].len(), MAX_LINE + 1);
    }
}
