//! `${VAR}` and `${VAR:-default}` interpolation over the raw config text.
//!
//! Interpolation happens on the text, before YAML parsing, so that the parser's
//! line numbers still point into the file the user wrote (a substituted value
//! only shifts columns on its own line). `$${` escapes a literal `${`.
//! Placeholders inside YAML comments are left alone, so a commented-out line
//! never fails for an unset variable.

use crate::ConfigError;

/// Looks a variable up; tests pass their own map instead of the process environment.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

pub fn interpolate(file: &str, text: &str, env: &dyn Env) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    for (idx, line) in text.split_inclusive('\n').enumerate() {
        interpolate_line(file, idx + 1, line, env, &mut out)?;
    }
    Ok(out)
}

fn interpolate_line(
    file: &str,
    line_no: usize,
    line: &str,
    env: &dyn Env,
    out: &mut String,
) -> Result<(), ConfigError> {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut in_single = false;
    let mut in_double = false;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' if !in_double => in_single = !in_single,
            b'"' if !in_single => in_double = !in_double,
            // A comment starts at `#` at line start or after whitespace, outside quotes.
            b'#' if !in_single && !in_double && (i == 0 || bytes[i - 1].is_ascii_whitespace()) => {
                out.push_str(&line[i..]);
                return Ok(());
            }
            b'$' if bytes.get(i + 1) == Some(&b'$') && bytes.get(i + 2) == Some(&b'{') => {
                out.push_str("${");
                i += 3;
                continue;
            }
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                let start = i + 2;
                let Some(rel_end) = line[start..].find('}') else {
                    return Err(ConfigError::at(
                        file,
                        line_no,
                        i + 1,
                        "unterminated `${` placeholder (write `$${` for a literal `${`)",
                    ));
                };
                let inner = &line[start..start + rel_end];
                let (name, default) = match inner.split_once(":-") {
                    Some((n, d)) => (n, Some(d)),
                    None => (inner, None),
                };
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(ConfigError::at(
                        file,
                        line_no,
                        i + 1,
                        format!("`${{{inner}}}` is not a valid placeholder: use ${{NAME}} or ${{NAME:-default}}"),
                    ));
                }
                match (env.get(name), default) {
                    // `${VAR:-default}` also applies the default to an empty variable, as in sh.
                    (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                    (Some(v), _) => out.push_str(&v),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => {
                        return Err(ConfigError::at(
                            file,
                            line_no,
                            i + 1,
                            format!(
                                "environment variable {name} is not set; set it or write ${{{name}:-default}}"
                            ),
                        ))
                    }
                }
                i = start + rel_end + 1;
                continue;
            }
            _ => {}
        }
        // Copy one UTF-8 character.
        let ch_len = utf8_len(c);
        out.push_str(&line[i..(i + ch_len).min(line.len())]);
        i += ch_len;
    }
    Ok(())
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("sk-123".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn run(text: &str) -> Result<String, ConfigError> {
        interpolate("t.yaml", text, &env)
    }

    #[test]
    fn substitutes_and_defaults() {
        assert_eq!(
            run("a: ${KEY}\nb: ${NOPE:-x y}\nc: ${EMPTY:-d}\n").unwrap(),
            "a: sk-123\nb: x y\nc: d\n"
        );
    }

    #[test]
    fn unset_variable_names_line_and_column() {
        let err = run("a: 1\nb: ${MISSING}\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert_eq!(err.column, Some(4));
        assert!(err.message.contains("MISSING"), "{err}");
    }

    #[test]
    fn comments_and_escapes_are_left_alone() {
        assert_eq!(
            run("a: 1 # ${MISSING}\nb: \"#${KEY}\"\nc: $${LIT}\n").unwrap(),
            "a: 1 # ${MISSING}\nb: \"#sk-123\"\nc: ${LIT}\n"
        );
    }

    #[test]
    fn bad_placeholders_are_errors() {
        assert!(run("a: ${UNCLOSED\n").is_err());
        assert!(run("a: ${bad-name}\n").is_err());
    }

    #[test]
    fn keeps_non_ascii() {
        assert_eq!(run("a: héllo ${KEY} ✓\n").unwrap(), "a: héllo sk-123 ✓\n");
    }
}
