use std::time::{Duration, Instant};

use super::error::SshError;
use super::exec::ExecRequest;
use super::executor::RemoteExecutor;
use super::target::SshTarget;

/// Runs `true` on `target` `n` times, one after another, and returns each
/// round trip (channel open, exec, exit status) for `make bench` to summarise.
/// A first connection is made before timing starts, so the figures measure
/// command latency on a warm pooled connection, not the handshake.
pub async fn bench_sequential_true(
    executor: &dyn RemoteExecutor,
    target: &SshTarget,
    n: usize,
) -> Result<Vec<Duration>, SshError> {
    executor.connect(target).await?;
    let request = ExecRequest::new("true", "true");
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        executor
            .exec(target, &request, &mut |_, _| {})
            .await?
            .ensure_success(&request.display)?;
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}
