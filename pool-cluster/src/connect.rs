//! Connects the processes of a cluster, quietly and within a time limit,
//! and hands the sockets to timely.
//!
//! timely connects processes itself (`CommunicationConfig::try_build`), but
//! retries a missing peer forever and prints each attempt to standard
//! output. This module makes the same connections with the same handshake
//! (process `i` connects to every process below it and sends its index as
//! a big-endian `u64`; it accepts the connections of the processes above
//! it), gives up after the connect timeout with [`PoolError::Connect`], and
//! passes the sockets to timely's `initialize_networking_from_sockets`.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use pool_core::PoolError;
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::communication::Hooks;

/// How long a failed attempt waits before the next: peers come up within a
/// few milliseconds of each other when a launcher starts them.
const RETRY: Duration = Duration::from_millis(20);

/// The allocators of this process's workers, and what keeps timely's
/// network threads alive.
pub(crate) type Built = (Vec<AllocatorBuilder>, Box<dyn std::any::Any + Send>);

fn connect_error(reason: String) -> PoolError {
    PoolError::Connect { reason }
}

/// Connects process `me` of `addresses.len()` to the others, each with
/// `threads` workers, within `limit`.
pub(crate) fn connect(
    addresses: &[String],
    me: usize,
    threads: usize,
    limit: Duration,
) -> Result<Built, PoolError> {
    let deadline = Instant::now() + limit;
    let n = addresses.len();
    // Bound first, so that the peers above can connect while this one
    // connects to those below.
    // A hostfile line may hold several addresses (timely binds each); this
    // process listens on, and its peers dial, the first.
    let first = |line: &str| line.split_whitespace().next().unwrap_or(line).to_string();
    let listener = TcpListener::bind(first(&addresses[me]).as_str()).map_err(|e| {
        connect_error(format!(
            "process {me} could not listen on {}: {e}",
            addresses[me]
        ))
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| connect_error(e.to_string()))?;
    let mut sockets: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
    for (peer, address) in addresses.iter().enumerate().take(me) {
        let mut stream = dial(&first(address), deadline).ok_or_else(|| {
            connect_error(format!(
                "process {me} could not reach process {peer} at {address} within {limit:?}"
            ))
        })?;
        stream
            .write_all(&(me as u64).to_be_bytes())
            .map_err(|e| connect_error(format!("handshake with process {peer}: {e}")))?;
        sockets[peer] = Some(stream);
    }
    while sockets.iter().skip(me + 1).any(Option::is_none) {
        match listener.accept() {
            Ok((mut stream, _)) => {
                stream
                    .set_nonblocking(false)
                    .map_err(|e| connect_error(e.to_string()))?;
                let left = deadline.saturating_duration_since(Instant::now());
                stream
                    .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                    .map_err(|e| connect_error(e.to_string()))?;
                let mut index = [0u8; 8];
                stream
                    .read_exact(&mut index)
                    .map_err(|e| connect_error(format!("handshake: {e}")))?;
                stream
                    .set_read_timeout(None)
                    .map_err(|e| connect_error(e.to_string()))?;
                let peer = u64::from_be_bytes(index) as usize;
                if peer <= me || peer >= n || sockets[peer].is_some() {
                    return Err(connect_error(format!(
                        "process {me} was sent the unexpected index {peer} by a peer"
                    )));
                }
                sockets[peer] = Some(stream);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    let missing: Vec<usize> =
                        (me + 1..n).filter(|p| sockets[*p].is_none()).collect();
                    return Err(connect_error(format!(
                        "process {me} heard nothing from process(es) {missing:?} within {limit:?}"
                    )));
                }
                std::thread::sleep(RETRY);
            }
            Err(e) => return Err(connect_error(format!("accepting a peer: {e}"))),
        }
    }
    for stream in sockets.iter().flatten() {
        stream
            .set_nodelay(true)
            .map_err(|e| connect_error(e.to_string()))?;
    }
    let hooks = Hooks::default();
    let process =
        ProcessBuilder::new_typed_vector(threads, hooks.refill.clone(), hooks.spill.clone());
    let (builders, guard) =
        initialize_networking_from_sockets(process, sockets, me, threads, hooks)
            .map_err(|e| connect_error(format!("starting the network threads: {e}")))?;
    Ok((
        builders.into_iter().map(AllocatorBuilder::Tcp).collect(),
        Box::new(guard),
    ))
}

/// Connects to `address` until `deadline`, retrying a failed resolution
/// and refused attempts, on every address the name resolves to.
fn dial(address: &str, deadline: Instant) -> Option<TcpStream> {
    loop {
        for resolved in address.to_socket_addrs().into_iter().flatten() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let attempt = left.min(Duration::from_secs(1));
            if let Ok(stream) = TcpStream::connect_timeout(&resolved, attempt) {
                return Some(stream);
            }
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(RETRY.min(deadline.saturating_duration_since(Instant::now())));
    }
}
