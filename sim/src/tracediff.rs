//! `diff A B`: the first divergence of two trace files, with a few lines of context, then the
//! event kinds whose counts differ.
//!
//! Lines are compared byte for byte; the report shows up to [`CONTEXT`] common lines before the
//! first difference, then the differing lines of each side.
//!
//! [`pipeline_view`] projects a trace onto what the scheduled and classic pipelines must agree
//! on for one seed (`run --pipeline both --diff`): how many distinct entries each region had
//! appended, and how the run ended. Everything else (sync batching, epochs, roll timing,
//! futures) legitimately differs between them.

use std::collections::BTreeMap;

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
    let counts = count_summary(&la, &lb);
    if !counts.is_empty() {
        out += &format!("event counts that differ ({na} / {nb}):\n");
        for line in counts {
            out += &format!("  {line}\n");
        }
    }
    Some(out)
}

/// The event kind of a trace line (`<time> <who> <KIND> ...`).
pub fn kind(line: &str) -> &str {
    line.split_whitespace().nth(2).unwrap_or("")
}

/// Events per kind.
pub fn kind_counts<'a>(lines: &[&'a str]) -> BTreeMap<&'a str, usize> {
    let mut m = BTreeMap::new();
    for l in lines {
        *m.entry(kind(l)).or_insert(0) += 1;
    }
    m
}

/// `KIND a b` for every kind whose count differs.
pub fn count_summary(a: &[&str], b: &[&str]) -> Vec<String> {
    let (ca, cb) = (kind_counts(a), kind_counts(b));
    let mut kinds: Vec<&str> = ca.keys().chain(cb.keys()).copied().collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
        .into_iter()
        .filter_map(|k| {
            let (x, y) = (ca.get(k).copied().unwrap_or(0), cb.get(k).copied().unwrap_or(0));
            (x != y).then(|| format!("{k:<12} {x:>6} {y:>6}"))
        })
        .collect()
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// What both pipelines must agree on: per region, the number of distinct seqids appended, and
/// the run's end line. One line each, sorted.
pub fn pipeline_view(trace: &str) -> Vec<String> {
    let mut regions: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    let mut end = Vec::new();
    for line in trace.lines() {
        match kind(line) {
            "APPEND" => {
                if let (Some(r), Some(s)) = (field(line, "region"), field(line, "seqid")) {
                    regions.entry(r).or_default().insert(s);
                }
            }
            "END" | "ORACLE_FAIL" => end.push(line.splitn(3, ' ').nth(2).unwrap_or("").trim().to_string()),
            _ => {}
        }
    }
    let mut view: Vec<String> = regions.iter().map(|(r, s)| format!("region={r} appended={}", s.len())).collect();
    view.extend(end);
    view
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

    /// Two traces differing in one event: the report names that line and the kind counts.
    #[test]
    fn one_event_differs() {
        let a = "0000001.0 rs1,1  SYNC_DONE epoch=0 txid=3\n0000002.0 rs1,1  APPEND txid=4\n";
        let b = "0000001.0 rs1,1  SYNC_DONE epoch=0 txid=3\n0000002.0 rs1,1  BROKEN epoch=0\n";
        let r = report("A", a, "B", b).expect("they differ");
        assert!(r.contains("line 2"), "{r}");
        assert!(r.contains("APPEND") && r.contains("BROKEN"), "kind counts are summarised: {r}");
    }

    /// The pipeline view keeps distinct appended seqids per region and the end line only.
    #[test]
    fn pipeline_view_ignores_batching() {
        let t = "0000001.0 rs1,1  APPEND      epoch=0 txid=1 region=r1 seqid=1 bytes=9\n\
                 0000001.0 rs1,1  SYNC_DONE   epoch=0 txid=1\n\
                 0000002.0 rs1,1  APPEND      epoch=1 txid=1 region=r1 seqid=1 bytes=9\n\
                 0000003.0 master END         ops=5\n";
        assert_eq!(pipeline_view(t), vec!["region=r1 appended=1".to_string(), "END         ops=5".to_string()]);
    }
}
