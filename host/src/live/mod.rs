//! Live candles: the feed (WebSocket or REST polling through the adapter) and the
//! handoff from stored history to live data.
