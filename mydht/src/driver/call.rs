//! [`CallFuture`]: a node handle's call as a `Future`, and what each call
//! makes of its api replies (shared by the blocking and the future forms).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use mydht_base::{Error, ErrorKind, ErrorLevel};

use crate::command::{ApiResult, NodeStats};
use crate::conf::MyDHTConf;
use crate::error::NodeError;
use crate::identity::PeerInfo;
use crate::service::ReplyFuture;

/// What a call makes of the replies of its api query.
pub(super) type Finish<C, T> = fn(Vec<ApiResult<C>>) -> Result<T, NodeError>;

/// A call of the [`NodeHandle`](super::NodeHandle) as a `Future`: it
/// resolves with the call's answer, or its [`NodeError`] (the query's
/// timeout included). It needs no executor of ours: poll it from any.
pub struct CallFuture<C: MyDHTConf, T> {
    replies: ReplyFuture<ApiResult<C>>,
    finish: Finish<C, T>,
}

impl<C: MyDHTConf, T> CallFuture<C, T> {
    pub(super) fn new(replies: ReplyFuture<ApiResult<C>>, finish: Finish<C, T>) -> Self {
        CallFuture { replies, finish }
    }
}

impl<C: MyDHTConf, T> Future for CallFuture<C, T> {
    type Output = Result<T, NodeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let finish = self.finish;
        match Pin::new(&mut self.replies).poll(cx) {
            Poll::Ready(Ok(replies)) => Poll::Ready(finish(replies)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The peer a connect reached.
pub(super) fn connected_peer<C: MyDHTConf>(r: Vec<ApiResult<C>>) -> Result<PeerInfo, NodeError> {
    match r.into_iter().next() {
        Some(ApiResult::Peer(Some(p))) => Ok(p),
        _ => Err(NodeError::Failed(Error::new(
            ErrorKind::Other,
            ErrorLevel::Ignore,
            "connect gave no peer",
        ))),
    }
}

/// A peer, or none.
pub(super) fn maybe_peer<C: MyDHTConf>(
    r: Vec<ApiResult<C>>,
) -> Result<Option<PeerInfo>, NodeError> {
    match r.into_iter().next() {
        Some(ApiResult::Peer(p)) => Ok(p),
        _ => Ok(None),
    }
}

/// A list of peers.
pub(super) fn peers<C: MyDHTConf>(r: Vec<ApiResult<C>>) -> Result<Vec<PeerInfo>, NodeError> {
    match r.into_iter().next() {
        Some(ApiResult::Peers(p)) => Ok(p),
        _ => Ok(Vec::new()),
    }
}

/// The node's counters.
pub(super) fn stats<C: MyDHTConf>(r: Vec<ApiResult<C>>) -> Result<NodeStats, NodeError> {
    match r.into_iter().next() {
        Some(ApiResult::Stats(s)) => Ok(s),
        _ => Ok(NodeStats::default()),
    }
}
