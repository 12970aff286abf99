//! The chain stake source against a local WebSocket JSON-RPC server that
//! replays SCALE bytes encoded by Python's scalecodec
//! (tests/fiber/make_metagraph_fixture.py -> tests/fiber/fixtures/metagraph_sn44.json),
//! never bytes our own code produced.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sv_gateway::stake::{ChainStake, StakeLookup, StakePolicy, StakeSource, decode_metagraph};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

struct Fixture {
    method: String,
    params_hex: String,
    result_hex: String,
    bytes: Vec<u8>,
    block: u64,
    tao_stake_rao: HashMap<String, u64>,
}

fn fixture() -> Result<Fixture> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fiber/fixtures/metagraph_sn44.json");
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| path.display().to_string())?,
    )?;
    let result_hex = json["result_hex"]
        .as_str()
        .context("result_hex")?
        .to_owned();
    Ok(Fixture {
        method: json["method"].as_str().context("method")?.to_owned(),
        params_hex: json["params_hex"]
            .as_str()
            .context("params_hex")?
            .to_owned(),
        bytes: hex_decode(&result_hex),
        result_hex,
        block: json["block"].as_u64().context("block")?,
        tao_stake_rao: serde_json::from_value(json["tao_stake_rao"].clone())?,
    })
}

fn hex_decode(s: &str) -> Vec<u8> {
    let s = s.trim_start_matches("0x");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// What the fake node answers to the n-th `state_call` (0-based).
type Script = Arc<dyn Fn(usize) -> Value + Send + Sync>;

/// A JSON-RPC WebSocket server on 127.0.0.1 that checks each request is the
/// expected `state_call` and answers with `script(n)` as the result or error.
async fn fake_node(
    method: String,
    params_hex: String,
    script: Script,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (method, params_hex, script, counter) = (
                method.clone(),
                params_hex.clone(),
                script.clone(),
                counter.clone(),
            );
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    let request: Value = serde_json::from_str(text.as_str()).unwrap();
                    let expected = json!([method, params_hex]);
                    let reply = if request["method"] != "state_call"
                        || request["params"] != expected
                    {
                        json!({"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32602, "message": format!("unexpected request {request}")}})
                    } else {
                        let n = counter.fetch_add(1, Ordering::SeqCst);
                        let mut reply = json!({"jsonrpc": "2.0", "id": request["id"]});
                        let answer = script(n);
                        if answer.get("code").is_some() {
                            reply["error"] = answer;
                        } else {
                            reply["result"] = answer;
                        }
                        reply
                    };
                    // A notification first, as a node may send: must be skipped.
                    let _ = ws
                        .send(Message::Text(
                            json!({"jsonrpc": "2.0", "method": "noise"})
                                .to_string()
                                .into(),
                        ))
                        .await;
                    let _ = ws.send(Message::Text(reply.to_string().into())).await;
                }
            });
        }
    });
    (addr, calls)
}

#[test]
fn decodes_the_scalecodec_fixture() -> Result<()> {
    let f = fixture()?;
    let metagraph = decode_metagraph(&f.bytes)?;
    assert_eq!(metagraph.netuid, 44);
    assert_eq!(metagraph.block, f.block);
    assert_eq!(metagraph.trailing_bytes, 0);
    let decoded: HashMap<String, u64> = metagraph
        .hotkeys
        .iter()
        .cloned()
        .zip(metagraph.tao_stake.iter().copied())
        .collect();
    assert_eq!(decoded, f.tao_stake_rao);
    assert_eq!(
        metagraph.hotkeys[0],
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
    );
    Ok(())
}

#[test]
fn damaged_bytes_fail_cleanly() -> Result<()> {
    let f = fixture()?;
    // Every truncation is an error, never a panic or a partial table.
    for len in 0..f.bytes.len() {
        assert!(
            decode_metagraph(&f.bytes[..len]).is_err(),
            "truncated to {len} bytes decoded"
        );
    }
    // A byte dropped from the middle (a layout the decoder does not know) is
    // caught by the consistency checks.
    let mut shifted = f.bytes.clone();
    shifted.remove(f.bytes.len() / 2);
    assert!(decode_metagraph(&shifted).is_err());
    // Fields appended by a newer runtime are tolerated.
    let mut longer = f.bytes.clone();
    longer.extend([0u8; 5]);
    assert_eq!(decode_metagraph(&longer)?.trailing_bytes, 5);
    Ok(())
}

#[tokio::test]
async fn syncs_a_snapshot_and_keeps_it_on_failure() -> Result<()> {
    let f = fixture()?;
    let good = f.result_hex.clone();
    // First call: the metagraph; second: garbage; third: a JSON-RPC error.
    let script: Script = Arc::new(move |n| match n {
        0 => json!(good),
        1 => json!("0x01deadbeef"),
        _ => json!({"code": -32000, "message": "runtime panicked"}),
    });
    let (addr, calls) = fake_node(f.method.clone(), f.params_hex.clone(), script).await;
    let chain = Arc::new(ChainStake::new(format!("ws://{addr}"), 44));
    let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    assert_eq!(chain.lookup(alice), StakeLookup::NotLoaded);

    assert_eq!(chain.sync_once().await?, f.tao_stake_rao.len());
    assert_eq!(chain.snapshot_block(), Some(f.block));
    for (hotkey, rao) in &f.tao_stake_rao {
        assert_eq!(chain.lookup(hotkey), StakeLookup::Known(*rao), "{hotkey}");
    }
    // //Ferdie is not in the metagraph.
    assert_eq!(
        chain.lookup("5CiPPseXPECbkjWCa6MnjNokrgYjMqmKndv2rSnekmSK2DjL"),
        StakeLookup::Unknown
    );

    let policy = StakePolicy::new(chain.clone(), 1000.0);
    policy.check(alice).unwrap();
    let charlie = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y";
    let dave = "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy";
    for low in [charlie, dave] {
        let err = policy.check(low).unwrap_err().to_string();
        assert!(err.contains("below the minimum"), "{err}");
    }

    let err = chain.sync_once().await.unwrap_err().to_string();
    assert!(err.contains("get_metagraph"), "{err}");
    let err = chain.sync_once().await.unwrap_err().to_string();
    assert!(err.contains("runtime panicked"), "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 3, "one chain call per sync");
    assert_eq!(
        chain.lookup(alice),
        StakeLookup::Known(f.tao_stake_rao[alice]),
        "the last good snapshot stays"
    );
    Ok(())
}

#[tokio::test]
async fn lookups_never_call_the_chain() -> Result<()> {
    let f = fixture()?;
    let good = f.result_hex.clone();
    let (addr, calls) = fake_node(
        f.method.clone(),
        f.params_hex.clone(),
        Arc::new(move |_| json!(good)),
    )
    .await;
    let chain = Arc::new(ChainStake::new(format!("ws://{addr}"), 44));
    let sync = chain.spawn_sync(Duration::from_secs(3600));
    for _ in 0..100 {
        if chain.snapshot_block().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(chain.snapshot_block(), Some(f.block));
    for _ in 0..10_000 {
        let _ = chain.lookup("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    sync.abort();
    Ok(())
}

#[tokio::test]
async fn an_unreachable_chain_is_an_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let chain = ChainStake::new(format!("ws://127.0.0.1:{port}"), 44);
    let err = chain.sync_once().await.unwrap_err().to_string();
    assert!(err.contains("connect"), "{err}");
    assert_eq!(chain.lookup("x"), StakeLookup::NotLoaded);
}

/// Never asked for tracks: the test only checks the stake sync wiring.
struct NoTracks;

impl sv_core::TrackSource for NoTracks {
    fn track(&self, _: sv_core::VideoRequest) -> sv_core::TrackStream {
        Box::pin(futures::stream::empty())
    }
}

#[tokio::test]
async fn the_gateway_config_starts_the_chain_sync() -> Result<()> {
    let f = fixture()?;
    let good = f.result_hex.clone();
    let (addr, calls) = fake_node(
        f.method.clone(),
        f.params_hex.clone(),
        Arc::new(move |_| json!(good)),
    )
    .await;
    let config = sv_gateway::GatewayConfig {
        hotkey: sv_gateway::HotkeyConfig {
            ss58: Some("5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty".into()),
            ..Default::default()
        },
        stake: sv_gateway::StakeConfig::Chain {
            endpoint: format!("ws://{addr}"),
            netuid: 44,
            sync_interval_s: 3600,
        },
        ..Default::default()
    };
    let state = sv_gateway::AppState::from_config(&config, Arc::new(NoTracks)).await?;
    for _ in 0..100 {
        if calls.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    drop(state);
    Ok(())
}
