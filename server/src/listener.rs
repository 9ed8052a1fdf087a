//! One accept loop per core. All cores listen on the same address
//! (glommio sets SO_REUSEPORT, so the kernel spreads connections); core 0
//! binds first so that port 0 resolves to one port for everyone.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use futures::channel::oneshot;
use futures::future::{select, Either};
use glommio::net::TcpListener;
use glommio::sync::Gate;
use shoal_engine::CoreApi;

use crate::connection;
use crate::dispatch::Context;
use crate::secret::Key;

/// What a core's listener needs from the server that started it.
pub struct CoreSetup {
    pub listen: SocketAddr,
    pub key: Key,
    pub subscription_lifetime_ms: u64,
    /// Core 0 sends the bound address here once per other core and once
    /// for the starter; the others receive it here.
    pub bound_tx: flume::Sender<SocketAddr>,
    pub bound_rx: flume::Receiver<SocketAddr>,
    /// Listening (or why not), once per core.
    pub ready: flume::Sender<Result<SocketAddr, String>>,
    /// Fires when the server shuts down.
    pub stop: flume::Receiver<()>,
    /// Told once every connection of this core has finished.
    pub drained: flume::Sender<usize>,
}

pub async fn run(api: CoreApi, setup: CoreSetup) {
    let core = api.core_id();
    let addr = if core == 0 {
        setup.listen
    } else {
        match setup.bound_rx.recv_async().await {
            Ok(a) => a,
            Err(_) => return,
        }
    };
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            let _ = setup.ready.send(Err(format!("core {core} cannot listen on {addr}: {e}")));
            return;
        }
    };
    let bound = listener.local_addr().unwrap_or(addr);
    if core == 0 {
        for _ in 0..api.cores() {
            let _ = setup.bound_tx.send(bound);
        }
    }
    let _ = setup.ready.send(Ok(bound));
    tracing::debug!(core, %bound, "listening");

    let ctx = Rc::new(Context { api, key: setup.key, subscription_lifetime_ms: setup.subscription_lifetime_ms });
    let gate = Gate::new();
    let stops: Rc<RefCell<Vec<oneshot::Sender<()>>>> = Rc::default();
    let mut stop = std::pin::pin!(setup.stop.recv_async());
    loop {
        let accepted = match select(std::pin::pin!(listener.accept()), stop.as_mut()).await {
            Either::Left((accepted, _)) => accepted,
            Either::Right(_) => break,
        };
        let stream = match accepted {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(core, error = %e, "accept failed");
                continue;
            }
        };
        let (tx, rx) = oneshot::channel();
        {
            let mut stops = stops.borrow_mut();
            stops.retain(|s| !s.is_canceled()); // forget finished connections
            stops.push(tx);
        }
        match gate.spawn(connection::serve(stream, ctx.clone(), rx)) {
            Ok(task) => {
                task.detach();
            }
            Err(_) => break,
        }
    }
    // Stop accepting, then let every connection finish what it started.
    drop(listener);
    for s in stops.borrow_mut().drain(..) {
        let _ = s.send(());
    }
    let _ = gate.close().await;
    let _ = setup.drained.send(core);
}
