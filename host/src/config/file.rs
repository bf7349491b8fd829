//! Reading `seamless.toml`: the TOML walk over top-level keys, sections (`[backfill]`) and
//! per-exchange tables (`[exchange_urls]`, `[ratelimit.<id>]`, `[adapters.<id>]`), driven by
//! [`KEYS`], with errors that name the file, the line and the fix.

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::keys::{
    KEYS, Key, Kind, Val, check, check_id, parse_duration, parse_text, top_level_names,
};
use super::{ConfigError, Loaded, Source, closest, redact};

impl Loaded {
    pub(super) fn apply_file(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let ctx = FileCtx { path, text };
        let root = DeTable::parse(text).map_err(|e| {
            let (line, column) = e.span().map(|s| ctx.line_col(s.start)).unwrap_or((1, 1));
            ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let source = Source::File(path.to_path_buf());
        let top_valid = top_level_names();
        for (k, v) in root.get_ref() {
            let name: &str = k.get_ref();
            // A fixed top-level key.
            if let Some(spec) = KEYS.iter().find(|s| s.path == name) {
                let mut parsed = ctx.value(name, spec.kind, v)?;
                if let Val::Path(p) = &mut parsed
                    && p.is_relative()
                    && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                {
                    *p = dir.join(&*p);
                }
                self.assign(spec, "", parsed, source.clone());
                continue;
            }
            let per_exchange: Vec<(&'static Key, Option<&'static str>)> = KEYS
                .iter()
                .filter_map(|s| match s.per_exchange() {
                    Some((table, field)) if table == name => Some((s, field)),
                    _ => None,
                })
                .collect();
            if !per_exchange.is_empty() {
                self.apply_exchange_table(&ctx, name, v, &per_exchange, &source)?;
                continue;
            }
            let section: Vec<(&'static Key, &'static str)> = KEYS
                .iter()
                .filter(|s| s.per_exchange().is_none())
                .filter_map(|s| Some((s, s.path.strip_prefix(name)?.strip_prefix('.')?)))
                .collect();
            if section.is_empty() {
                return Err(ctx.unknown(
                    name,
                    name,
                    k.span().start,
                    &top_valid,
                    " at the top level",
                ));
            }
            let table = ctx.table(name, v)?;
            let valid: Vec<&str> = section.iter().map(|(_, f)| *f).collect();
            for (f, val) in table {
                let key = format!("{name}.{}", f.get_ref());
                let Some((spec, _)) = section
                    .iter()
                    .find(|(_, field)| *field == f.get_ref().as_ref())
                else {
                    return Err(ctx.unknown(
                        &key,
                        f.get_ref(),
                        f.span().start,
                        &valid,
                        &format!(" in [{name}]"),
                    ));
                };
                let parsed = ctx.value(&key, spec.kind, val)?;
                self.assign(spec, "", parsed, source.clone());
            }
        }
        Ok(())
    }

    /// A per-exchange table: `[exchange_urls]` (`id = value`) or `[ratelimit.<id>]`-style
    /// (`[table.id]` then `field = value`).
    fn apply_exchange_table(
        &mut self,
        ctx: &FileCtx<'_>,
        name: &str,
        v: &toml::Spanned<DeValue<'_>>,
        specs: &[(&'static Key, Option<&'static str>)],
        source: &Source,
    ) -> Result<(), ConfigError> {
        let table = ctx.table(name, v)?;
        // `exchange_urls.<id>`: the values sit directly under the table.
        if let [(spec, None)] = specs {
            for (id, val) in table {
                let key = format!("{name}.{}", id.get_ref());
                ctx.check_id(&key, id.get_ref(), id.span().start)?;
                let parsed = ctx.value(&key, spec.kind, val)?;
                self.assign(spec, id.get_ref(), parsed, source.clone());
            }
            return Ok(());
        }
        let valid: Vec<&str> = specs.iter().filter_map(|(_, f)| *f).collect();
        for (id, fields) in table {
            let prefix = format!("{name}.{}", id.get_ref());
            if valid.contains(&id.get_ref().as_ref()) && !fields.get_ref().is_table() {
                // `[ratelimit]` + `budget = 5`: the exchange table is missing.
                let noun = if name == "ratelimit" {
                    "rate-limit"
                } else {
                    name
                };
                return Err(ConfigError::WrongType {
                    path: ctx.path.to_path_buf(),
                    line: ctx.line(id.span().start),
                    key: prefix,
                    expected: "a table of one exchange's overrides".to_string(),
                    found: format!(
                        "{}; {noun} fields go under an exchange table, e.g. [{name}.binance] then {} = ...",
                        describe(fields.get_ref()),
                        id.get_ref()
                    ),
                });
            }
            ctx.check_id(&prefix, id.get_ref(), id.span().start)?;
            let fields = ctx.table(&prefix, fields)?;
            for (f, val) in fields {
                let key = format!("{prefix}.{}", f.get_ref());
                let Some((spec, _)) = specs
                    .iter()
                    .find(|(_, field)| *field == Some(f.get_ref().as_ref()))
                else {
                    return Err(ctx.unknown(
                        &key,
                        f.get_ref(),
                        f.span().start,
                        &valid,
                        &format!(" in [{prefix}]"),
                    ));
                };
                let parsed = ctx.value(&key, spec.kind, val)?;
                self.assign(spec, id.get_ref(), parsed, source.clone());
            }
        }
        Ok(())
    }
}

/// The file being applied, for messages.
struct FileCtx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl FileCtx<'_> {
    /// 1-based line and column of a byte offset.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = self.text.get(..offset.min(self.text.len())).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    fn line(&self, offset: usize) -> usize {
        self.line_col(offset).0
    }

    /// `v` as a table, or a wrong-type error for `key`.
    fn table<'v, 'i>(
        &self,
        key: &str,
        v: &'v toml::Spanned<DeValue<'i>>,
    ) -> Result<&'v DeTable<'i>, ConfigError> {
        match v.get_ref() {
            DeValue::Table(t) => Ok(t),
            other => Err(ConfigError::WrongType {
                path: self.path.to_path_buf(),
                line: self.line(v.span().start),
                key: key.to_string(),
                expected: format!("a table (write it as [{key}])"),
                found: describe(other),
            }),
        }
    }

    fn check_id(&self, key: &str, id: &str, offset: usize) -> Result<(), ConfigError> {
        check_id(id).map_err(|reason| ConfigError::InvalidValue {
            path: self.path.to_path_buf(),
            line: self.line(offset),
            key: key.to_string(),
            reason,
        })
    }

    fn unknown(
        &self,
        key: &str,
        name: &str,
        offset: usize,
        valid: &[&str],
        scope: &str,
    ) -> ConfigError {
        // A close key in the same table, else the same name in another table (misplaced key).
        let suggestion = closest(name, valid.iter().copied())
            .map(|s| match key.rsplit_once('.') {
                Some((table, _)) => format!("{table}.{s}"),
                None => s,
            })
            .or_else(|| {
                KEYS.iter()
                    .map(|k| k.path)
                    .filter(|p| p.rsplit('.').next() == Some(name) && *p != key)
                    .map(str::to_string)
                    .next()
            });
        ConfigError::UnknownKey {
            at: format!("{}:{}", self.path.display(), self.line(offset)),
            key: key.to_string(),
            suggestion,
            scope: scope.to_string(),
            valid: valid.join(", "),
        }
    }

    /// A file value of `kind` for `key`.
    fn value(
        &self,
        key: &str,
        kind: Kind,
        v: &toml::Spanned<DeValue<'_>>,
    ) -> Result<Val, ConfigError> {
        let line = self.line(v.span().start);
        let wrong = |hint: String| ConfigError::WrongType {
            path: self.path.to_path_buf(),
            line,
            key: key.to_string(),
            expected: format!("{} ({})", kind.expected(), kind.toml_type()),
            found: format!("{}{hint}", describe(v.get_ref())),
        };
        let invalid = |shown: String| ConfigError::InvalidValue {
            path: self.path.to_path_buf(),
            line,
            key: key.to_string(),
            reason: format!("{shown} is not {}", kind.expected()),
        };
        let parsed = match (kind, v.get_ref()) {
            (Kind::Str | Kind::Url | Kind::Sha256, DeValue::String(s)) => Val::Str(s.to_string()),
            (Kind::Secret, DeValue::String(s)) => Val::Secret(s.trim().to_string()),
            (Kind::Addr, DeValue::String(s)) => match s.trim().parse() {
                Ok(a) => Val::Addr(a),
                Err(_) => return Err(invalid(format!("{:?}", s.as_ref()))),
            },
            (Kind::Path, DeValue::String(s)) => Val::Path(PathBuf::from(s.as_ref())),
            (Kind::OnViolation, DeValue::String(s)) => match s.parse() {
                Ok(o) => Val::OnViolation(o),
                Err(_) => return Err(invalid(format!("{:?}", s.as_ref()))),
            },
            (Kind::Bool, DeValue::Boolean(b)) => Val::Bool(*b),
            (Kind::Duration { .. }, DeValue::String(s)) => match parse_duration(s.trim()) {
                Some(d) => Val::Duration(d),
                None => return Err(invalid(format!("{:?}", s.as_ref()))),
            },
            (Kind::Duration { .. }, DeValue::Integer(i)) => {
                return Err(wrong(format!(
                    "; write it with its unit, in quotes: {} = \"{i}s\" (or \"{i}ms\")",
                    leaf(key)
                )));
            }
            (Kind::U32 { .. } | Kind::U64 { .. } | Kind::Share, DeValue::Integer(i)) => {
                let Ok(n) = i128::from_str_radix(i.as_str(), i.radix()) else {
                    return Err(invalid(i.to_string()));
                };
                match kind {
                    Kind::U32 { .. } => {
                        Val::U32(u32::try_from(n).map_err(|_| invalid(n.to_string()))?)
                    }
                    Kind::U64 { .. } => {
                        Val::U64(u64::try_from(n).map_err(|_| invalid(n.to_string()))?)
                    }
                    // Whole numbers are fine where a float is expected (`share = 1`).
                    _ => Val::F64(n as f64),
                }
            }
            (Kind::Share, DeValue::Float(f)) => match f.as_str().parse::<f64>() {
                Ok(x) => Val::F64(x),
                Err(_) => return Err(invalid(f.to_string())),
            },
            (_, DeValue::String(s))
                if parse_text(kind, s).is_ok()
                    && (kind != Kind::Bool || matches!(s.trim(), "true" | "false")) =>
            {
                return Err(wrong(format!(
                    "; remove the quotes: {} = {}",
                    leaf(key),
                    s.trim()
                )));
            }
            _ => return Err(wrong(String::new())),
        };
        check(kind, parsed).map_err(invalid)
    }
}

fn leaf(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

/// A TOML value's type and, for scalars, the value, for messages.
fn describe(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("string {:?}", redact(s)),
        DeValue::Integer(i) => format!("integer {i}"),
        DeValue::Float(f) => format!("float {f}"),
        DeValue::Boolean(b) => format!("boolean {b}"),
        other => other.type_str().to_string(),
    }
}
