//! `seamless serve`: run until SIGTERM/SIGINT, serving the HTTP data API
//! ([`seamless::api`]: `/v1/candles`, `/v1/coverage`, `/v1/openapi.json`, `/metrics`,
//! `/healthz`, `/readyz`) on `api.listen` (default 127.0.0.1:8765). A non-loopback address
//! needs `--allow-remote` and a token (`api.token`).

use clap::Args;

use seamless::api::ApiState;

use super::options::DataArgs;
use super::{Failure, Global, is_loopback};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the HTTP data API, e.g. 127.0.0.1:8765 (config key `api.listen`); port 0
    /// picks a free port. A non-loopback address needs --allow-remote and --token.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Bearer token every /v1/ call must send (`Authorization: Bearer TOKEN`); config key
    /// `api.token`, or SEAMLESS_API_TOKEN (which keeps it out of the process list).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
}

impl ServeArgs {
    /// The flags that set config keys (`api.listen`, `api.token`), as `(flag, text)`.
    pub(crate) fn flag_values(&self) -> Vec<(&'static str, String)> {
        [("--listen", &self.listen), ("--token", &self.token)]
            .into_iter()
            .filter_map(|(f, v)| Some((f, v.clone()?)))
            .collect()
    }
}

pub async fn run(g: &Global) -> Result<(), Failure> {
    let api = g.cfg().api.clone();
    if !is_loopback(api.listen.ip()) && api.token.is_none() {
        return Err(Failure::bad(anyhow::anyhow!(
            "listening on {} would serve data to other machines: listen on 127.0.0.1, or set a token (--token TOKEN, SEAMLESS_API_TOKEN or api.token) so that only clients sending `Authorization: Bearer TOKEN` get it (and pass --allow-remote)",
            api.listen
        )));
    }
    g.check_listen(api.listen, "api.listen")?;
    let state = ApiState {
        provider: g.provider()?,
        sla: g.sla()?,
        token: api.token,
        streams: Default::default(),
    };
    let server = seamless::api::serve(api.listen, state)
        .await
        .map_err(Failure::bad)?;
    if !g.quiet {
        eprintln!(
            "api: http://{}/v1/ (the document: /v1/openapi.json; metrics: /metrics)",
            server.addr()
        );
    }
    super::shutdown_signal().await;
    server.shutdown().await;
    Ok(())
}
