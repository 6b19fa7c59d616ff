//! Finds where a field sits in block-style YAML text, so that semantic errors found
//! after parsing can still name a line and column. It understands the block style
//! people write configs in (`key: value`, `- item` lists); for anything it cannot
//! follow (flow style) it returns the deepest position it did find.

use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl Seg {
    pub fn key(k: &str) -> Seg {
        Seg::Key(k.to_string())
    }
}

pub fn display_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// One meaningful line: 1-based number, column of its content, the content.
#[derive(Clone, Copy)]
struct Line<'a> {
    no: usize,
    indent: usize,
    text: &'a str,
}

/// Returns the 1-based (line, column) of the value at `path`, or of its deepest found ancestor.
pub fn locate(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let lines: Vec<Line> = text
        .lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
                return None;
            }
            Some(Line {
                no: i + 1,
                indent: raw.len() - trimmed.len(),
                text: trimmed,
            })
        })
        .collect();
    let mut scope: Vec<Line> = lines;
    let mut found = None;
    for seg in path {
        let Some(level) = scope.first().map(|l| l.indent) else {
            break;
        };
        match seg {
            Seg::Key(key) => {
                let pos = scope.iter().position(|l| {
                    l.indent == level
                        && l.text
                            .strip_prefix(key.as_str())
                            .map(|r| r.trim_start().starts_with(':'))
                            .unwrap_or(false)
                });
                let Some(pos) = pos else { break };
                let line = scope[pos];
                found = Some((line.no, line.indent + 1));
                let after = line.text[key.len()..].trim_start()[1..].trim_start();
                if !after.is_empty() && !after.starts_with('#') {
                    // Inline value: point at it; nothing nests below a scalar.
                    let col = line.indent + line.text.len() - after.len() + 1;
                    found = Some((line.no, col));
                }
                scope = scope[pos + 1..]
                    .iter()
                    .take_while(|l| {
                        l.indent > level || (l.indent == level && l.text.starts_with("- "))
                    })
                    .copied()
                    .collect();
            }
            Seg::Index(n) => {
                let items: Vec<usize> = scope
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| {
                        l.indent == level && (l.text.starts_with("- ") || l.text == "-")
                    })
                    .map(|(i, _)| i)
                    .collect();
                let Some(&start) = items.get(*n) else { break };
                let end = items.get(n + 1).copied().unwrap_or(scope.len());
                let head = scope[start];
                found = Some((head.no, head.indent + 1));
                // The item's first line, seen without its dash, is the first line of its map.
                let inner = head.text[1..].trim_start();
                let mut item = vec![Line {
                    no: head.no,
                    indent: head.indent + (head.text.len() - inner.len()),
                    text: inner,
                }];
                item.extend(scope[start + 1..end].iter().copied());
                item.retain(|l| !l.text.is_empty());
                scope = item;
            }
        }
        if scope.is_empty() {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
providers:
  openai:
    kind: openai
models:
  - name: general
    deployments:
      - provider: openai
        model: gpt-4o-mini
      - provider: nope   # typo
        model: x
";

    #[test]
    fn finds_nested_list_fields() {
        let path = vec![
            Seg::key("models"),
            Seg::Index(0),
            Seg::key("deployments"),
            Seg::Index(1),
            Seg::key("provider"),
        ];
        assert_eq!(locate(TEXT, &path), Some((9, 19)));
        assert_eq!(display_path(&path), "models[0].deployments[1].provider");
    }

    #[test]
    fn finds_map_fields() {
        let path = vec![Seg::key("providers"), Seg::key("openai"), Seg::key("kind")];
        assert_eq!(locate(TEXT, &path), Some((3, 11)));
    }

    #[test]
    fn falls_back_to_deepest_found() {
        let path = vec![Seg::key("models"), Seg::Index(5)];
        assert_eq!(locate(TEXT, &path), Some((4, 1)));
    }
}
