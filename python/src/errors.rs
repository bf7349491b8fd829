//! Failures as Python exceptions. Three kinds, as the CLI's exit codes: bad input (2),
//! incomplete data (3, carrying the exact missing ranges) and runtime failure (1). The
//! message is the library's (the CLI prints the same text), with its advice spelled as the
//! Python keyword to pass instead of the CLI's flag. The exception classes are defined in
//! Python (`seamless_market.errors`), so they can also derive from `ValueError` and
//! `RuntimeError`.

use pyo3::prelude::*;

use seamless::config::BuildError;
use seamless::provider::{ProviderError, RegistryError, Remedy};

/// Which exception class, by the CLI's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `BadInputError` (exit code 2).
    BadInput,
    /// `IncompleteError` (exit code 3).
    Incomplete,
    /// `SeamlessRuntimeError` (exit code 1).
    Runtime,
}

/// A failure on its way to Python.
#[derive(Debug)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
    /// The ranges missing from an incomplete frame (`[start, end)` in ms).
    pub missing: Vec<(i64, i64)>,
}

impl Failure {
    pub fn bad(message: impl std::fmt::Display) -> Self {
        Failure {
            kind: Kind::BadInput,
            message: message.to_string(),
            missing: Vec::new(),
        }
    }

    pub fn runtime(message: impl std::fmt::Display) -> Self {
        Failure {
            kind: Kind::Runtime,
            message: message.to_string(),
            missing: Vec::new(),
        }
    }

    /// The exception instance (an object, so it can also be handed to an asyncio future).
    pub fn to_exception<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let class = match self.kind {
            Kind::BadInput => "BadInputError",
            Kind::Incomplete => "IncompleteError",
            Kind::Runtime => "SeamlessRuntimeError",
        };
        py.import("seamless_market.errors")?
            .getattr(class)?
            .call1((self.message.as_str(), self.missing.clone()))
    }

    /// The exception to raise.
    pub fn into_pyerr(self, py: Python<'_>) -> PyErr {
        match self.to_exception(py) {
            Ok(e) => PyErr::from_value(e),
            Err(e) => e,
        }
    }
}

/// The library's phrase for a remedy, and its Python spelling.
fn python_remedy(r: Remedy) -> &'static str {
    match r {
        Remedy::PartialOk => "pass partial_ok=True",
    }
}

/// The library's advice about the exchange's base URL, and where Python sets it.
const EXCHANGE_URL: (&str, &str) = (
    "its `exchange_urls` override",
    "Provider(exchange_urls={...})",
);

/// The registry advice the CLI appends (naming its flags), naming keywords instead.
fn registry_advice(e: &RegistryError) -> String {
    match e {
        RegistryError::UnknownExchange { .. } => {
            "; to use a third-party adapter, pass Provider(adapters=['PATH.wasm'])".to_string()
        }
        RegistryError::OverrideForUnknownExchange { id, .. } => format!(
            "; fix the id '{id}' in Provider(exchange_urls={{ID: URL}}), or pass Provider(adapters=['PATH.wasm']) to load the adapter that has it"
        ),
        RegistryError::Shadows { .. } => {
            "; pass Provider(allow_override=True) to use it instead of the built-in".to_string()
        }
        RegistryError::PinMismatch(m) => format!(
            "; if you trust this file, set the pin `adapters.{id}.sha256` to {actual}, e.g. Provider(settings={{'adapters.{id}.sha256': '{actual}'}})",
            id = m.id,
            actual = m.actual
        ),
        _ => String::new(),
    }
}

impl From<BuildError> for Failure {
    fn from(e: BuildError) -> Self {
        match e {
            BuildError::Registry(r) => r.into(),
            e if e.is_bad_input() => Failure::bad(e),
            e => Failure::runtime(e),
        }
    }
}

impl From<RegistryError> for Failure {
    fn from(e: RegistryError) -> Self {
        let advice = registry_advice(&e);
        let kind = if e.is_bad_input() {
            Kind::BadInput
        } else {
            Kind::Runtime
        };
        Failure {
            kind,
            message: format!("{e}{advice}"),
            missing: Vec::new(),
        }
    }
}

impl From<ProviderError> for Failure {
    fn from(e: ProviderError) -> Self {
        if let ProviderError::Registry(r) = e {
            return r.into();
        }
        let kind = if e.is_bad_input() {
            Kind::BadInput
        } else if e.is_incomplete() {
            Kind::Incomplete
        } else {
            Kind::Runtime
        };
        let missing = match &e {
            ProviderError::Incomplete { missing, .. } => missing.ranges().to_vec(),
            _ => Vec::new(),
        };
        let mut message = e.to_string();
        if let Some(r) = e.remedy() {
            message = message.replacen(&r.to_string(), python_remedy(r), 1);
        }
        message = message.replacen(EXCHANGE_URL.0, EXCHANGE_URL.1, 1);
        Failure {
            kind,
            message,
            missing,
        }
    }
}
