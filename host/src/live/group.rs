//! Many series live in one process: a [`LiveGroup`] asks each exchange's adapter for one
//! live plan covering all of that exchange's series (`live-plan` with the whole list),
//! opens the connections the adapter grouped them into (each connection carrying many
//! series, within the venue's limits the adapter declared), and runs one
//! [`LiveSession`] handoff per series on the events its connection routes to it by
//! stream key. Series the plan polls, refuses, or that cannot be planned together are
//! followed by a feed of their own, as a single `LiveSession` would.
//!
//! Every series gets the single-series guarantees: the seam backfilled first, closed
//! candles stored with their ledger ranges as they close, exactly the range lost to a
//! disconnect backfilled through the same gateway, budget and leases as any backfill.
//! A series the venue refuses ends with [`LiveError::Refused`]; the others go on.

use std::collections::{BTreeMap, HashMap};

use tokio::sync::mpsc;

use super::feed::{FeedHandle, LiveFeed, plan_route};
use super::session::{LiveError, LiveSession, LiveUpdate, SessionOptions, SessionSummary};
use crate::domain::NodeId;
use crate::provider::Provider;

/// A running group of live sessions.
#[derive(Debug)]
pub struct LiveGroup {
    nodes: Vec<NodeId>,
    sessions: Vec<LiveSession>,
    /// The shared connections (each session's own feed is stopped with it).
    connections: Vec<FeedHandle>,
}

/// An update of series `index` (into the nodes given to [`LiveGroup::start`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupUpdate {
    pub index: usize,
    pub update: LiveUpdate,
}

/// How one exchange's series are followed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExchangePlan {
    /// WebSocket connections opened, each with the number of series it carries.
    pub connections: Vec<usize>,
    /// Series on a feed of their own (polled, refused by the plan, or unplanned).
    pub own_feeds: usize,
}

impl LiveGroup {
    /// Follow every `(node, from)` live through `provider` (see the module docs).
    /// Returns the group, how each exchange is followed, and one channel with every
    /// series' updates.
    pub async fn start(
        provider: Provider,
        series: Vec<(NodeId, i64)>,
        opts: SessionOptions,
    ) -> Result<
        (
            LiveGroup,
            BTreeMap<String, ExchangePlan>,
            mpsc::Receiver<GroupUpdate>,
        ),
        LiveError,
    > {
        // By exchange, in the order given.
        let mut by_exchange: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, (node, _)) in series.iter().enumerate() {
            by_exchange
                .entry(node.exchange.clone())
                .or_default()
                .push(i);
        }
        let mut events: Vec<Option<(mpsc::Receiver<super::FeedEvent>, Option<FeedHandle>)>> =
            (0..series.len()).map(|_| None).collect();
        let mut connections = Vec::new();
        let mut plans = BTreeMap::new();
        for (exchange_id, members) in by_exchange {
            let first = series[members[0]].0.clone();
            let (p, n) = (provider.clone(), first.clone());
            let exchange = tokio::task::spawn_blocking(move || p.exchange(&n))
                .await
                .map_err(|e| LiveError::Task {
                    node: first.to_string(),
                    detail: e.to_string(),
                })??;
            let route = provider.route(&exchange);
            let nodes: Vec<NodeId> = members.iter().map(|i| series[*i].0.clone()).collect();
            let mut plan = ExchangePlan::default();
            if !opts.feed.force_poll {
                match plan_route(&route, &nodes).await {
                    Ok(r) => {
                        for c in &r.connections {
                            // Market index (into `nodes`) → index into this connection's targets.
                            let mut market_of = HashMap::new();
                            let mut targets = Vec::new();
                            for s in &c.streams {
                                market_of.insert(s.market, targets.len());
                                targets.push(members[s.market as usize]);
                            }
                            let (handle, rxs) = LiveFeed::spawn_connection(
                                targets.iter().map(|i| series[*i].0.clone()).collect(),
                                c,
                                &r,
                                &market_of,
                                route.clone(),
                                provider.clock().clone(),
                                opts.feed.clone(),
                            );
                            for (i, rx) in targets.iter().zip(rxs) {
                                events[*i] = Some((rx, None));
                            }
                            plan.connections.push(targets.len());
                            connections.push(handle);
                        }
                    }
                    Err(why) => {
                        tracing::warn!(exchange = %exchange_id, "{why}; each series follows on its own");
                    }
                }
            }
            // Everything not on a shared connection: a feed of its own.
            for i in &members {
                if events[*i].is_none() {
                    let (feed, rx) = LiveFeed::spawn_on(
                        series[*i].0.clone(),
                        route.clone(),
                        provider.clock().clone(),
                        opts.feed.clone(),
                    );
                    events[*i] = Some((rx, Some(feed)));
                    plan.own_feeds += 1;
                }
            }
            plans.insert(exchange_id, plan);
        }
        let (tx, rx) = mpsc::channel(opts.updates_capacity.max(1) * 4);
        let mut sessions = Vec::with_capacity(series.len());
        for (index, ((node, from), ev)) in series.iter().zip(events).enumerate() {
            let Some((events, feed)) = ev else {
                continue;
            };
            let (session, mut updates) = LiveSession::start_on(
                provider.clone(),
                node.clone(),
                *from,
                opts.clone(),
                events,
                feed,
            );
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(update) = updates.recv().await {
                    if tx.send(GroupUpdate { index, update }).await.is_err() {
                        break;
                    }
                }
            });
            sessions.push(session);
        }
        let nodes = series.into_iter().map(|(n, _)| n).collect();
        Ok((
            LiveGroup {
                nodes,
                sessions,
                connections,
            },
            plans,
            rx,
        ))
    }

    /// The series, in the order given.
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    /// The sessions, in the order given.
    pub fn sessions(&self) -> &[LiveSession] {
        &self.sessions
    }

    /// Stop every session and connection; each series' summary (or why it ended).
    pub async fn stop(self) -> Vec<Result<SessionSummary, LiveError>> {
        let mut out = Vec::with_capacity(self.sessions.len());
        for s in self.sessions {
            out.push(s.stop().await);
        }
        for c in self.connections {
            c.stop().await;
        }
        out
    }
}
