//! `diff A B`: the first divergence of two trace files, with a few lines of context.
//!
//! Lines are compared byte for byte; the report shows up to [`CONTEXT`] common lines before the
//! first difference, then the differing lines of each side.

/// Lines of context shown before the divergence.
pub const CONTEXT: usize = 3;

/// Lines of each side shown from the divergence on.
pub const AFTER: usize = 3;

/// The first line (0-based) where `a` and `b` differ, or `None` if they are identical.
pub fn first_divergence(a: &[&str], b: &[&str]) -> Option<usize> {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    (common < a.len().max(b.len())).then_some(common)
}

/// A human report of how `a` (named `na`) and `b` (named `nb`) differ; `None` when identical.
pub fn report(na: &str, a: &str, nb: &str, b: &str) -> Option<String> {
    let la: Vec<&str> = a.lines().collect();
    let lb: Vec<&str> = b.lines().collect();
    let at = first_divergence(&la, &lb)?;
    let mut out = format!("traces diverge at line {} ({na}: {} lines, {nb}: {} lines)\n", at + 1, la.len(), lb.len());
    for (i, l) in la.iter().enumerate().take(at).skip(at.saturating_sub(CONTEXT)) {
        out += &format!("  {:>7}   {l}\n", i + 1);
    }
    for (mark, lines) in [("-", &la), ("+", &lb)] {
        let shown: Vec<_> = lines.iter().enumerate().skip(at).take(AFTER).collect();
        if shown.is_empty() {
            out += &format!("{mark} {:>7}   <end of {}>\n", at + 1, if mark == "-" { na } else { nb });
        }
        for (i, l) in shown {
            out += &format!("{mark} {:>7}   {l}\n", i + 1);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The diff finds the first differing line, including a missing tail, and nothing in equal traces.
    #[test]
    fn finds_first_divergence() {
        assert_eq!(first_divergence(&["a", "b"], &["a", "b"]), None);
        assert_eq!(first_divergence(&["a", "b", "c"], &["a", "x", "c"]), Some(1));
        assert_eq!(first_divergence(&["a"], &["a", "b"]), Some(1));
        let r = report("A", "1\n2\n3\n4\n", "B", "1\n2\nX\n4\n").unwrap();
        assert!(r.contains("line 3") && r.contains("-       3   3") && r.contains("+       3   X"), "{r}");
        assert!(report("A", "same\n", "B", "same\n").is_none());
    }
}
