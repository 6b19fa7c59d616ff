//! Switchyard's configuration file (see `shared/INTERFACE.md`).
//!
//! Loading is three steps: `${VAR}` interpolation on the text ([`interpolate`]),
//! strict YAML deserialisation (unknown fields are errors, with the field's path and
//! its file:line:column), then semantic checks ([`Config::validate`]) whose errors
//! are located in the file as well. A config key is only accepted here once the
//! feature behind it works; later features add their keys.

mod duration;
mod interpolate;
pub mod locate;
mod model;

pub use duration::{ByteSize, HumanDuration};
pub use interpolate::{interpolate, Env, ProcessEnv};
pub use model::*;

use std::fmt;
use std::path::Path;

/// A configuration error that names the file, the position and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted path of the offending field, e.g. `models[0].deployments[1].weight`.
    pub field: Option<String>,
    pub message: String,
}

impl ConfigError {
    pub fn at(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_string(),
            line: Some(line),
            column: Some(column),
            field: None,
            message: message.into(),
        }
    }

    pub fn file(file: &str, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_string(),
            line: None,
            column: None,
            field: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Reads, interpolates, parses and validates a config file.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::file(&name, format!("cannot read config file: {e}")))?;
    let mut config = parse_str(&name, &text, &ProcessEnv)?;
    config.source = Some(path.to_path_buf());
    Ok(config)
}

/// Parses config text; `file` names it in errors.
pub fn parse_str(file: &str, text: &str, env: &dyn Env) -> Result<Config, ConfigError> {
    let text = interpolate(file, text, env)?;
    let de = serde_yaml_ng::Deserializer::from_str(&text);
    let config: Config = serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.inner();
        let (line, column) = match inner.location() {
            Some(loc) => (Some(loc.line()), Some(loc.column())),
            None => (None, None),
        };
        let mut message = inner.to_string();
        // serde_yaml appends its own " at line X column Y"; we print the position up front.
        if let Some(idx) = message.find(" at line ") {
            message.truncate(idx);
        }
        // ...and prefixes the field path, which we print as its own part.
        if let Some((prefix, rest)) = message.split_once(": ") {
            if !prefix.contains(' ') && path.starts_with(prefix) {
                message = rest.to_string();
            }
        }
        let mut field = (path != ".").then_some(path);
        if let Some(name) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
        {
            field = Some(match field {
                Some(p) if p == name || p.ends_with(&format!(".{name}")) => p,
                Some(p) => format!("{p}.{name}"),
                None => name.to_string(),
            });
        }
        ConfigError {
            file: file.to_string(),
            line,
            column,
            field,
            message,
        }
    })?;
    config.validate().map_err(|v| {
        let (line, column) = locate::locate(&text, &v.path)
            .map(|(l, c)| (Some(l), Some(c)))
            .unwrap_or((None, None));
        ConfigError {
            file: file.to_string(),
            line,
            column,
            field: Some(locate::display_path(&v.path)),
            message: v.message,
        }
    })?;
    Ok(config)
}

#[cfg(test)]
mod tests;
