#!/usr/bin/env python3
"""Writes tests/fiber/fixtures/metagraph_sn44.json: the SCALE bytes a subtensor
node returns for `state_call("SubnetInfoRuntimeApi_get_metagraph", netuid)`,
encoded by scalecodec (substrate-interface's codec), not by our Rust code.

The layout is subtensor's `Metagraph<AccountId32>` as of mid-2026
(pallets/subtensor/src/rpc_info/metagraph.rs), wrapped in `Option`. Like the
live chain, `pruning_score`, `trust` and `rank` are empty vectors (no longer
computed), so decoders must not assume every per-UID vector has one entry per
UID.

The fixture also records what a decoder should find (hotkey -> tao_stake in
rao). Run from the repository root:

    .venv-fiber/bin/python tests/fiber/make_metagraph_fixture.py
"""

import json
import pathlib

from scalecodec.base import RuntimeConfigurationObject
from scalecodec.type_registry import load_type_registry_preset
from substrateinterface import Keypair

NETUID = 44
RAO = 10**9

TYPES = {
    "types": {
        "SubnetIdentityV3": {
            "type": "struct",
            "type_mapping": [
                ["subnet_name", "Bytes"],
                ["github_repo", "Bytes"],
                ["subnet_contact", "Bytes"],
                ["subnet_url", "Bytes"],
                ["discord", "Bytes"],
                ["description", "Bytes"],
                ["logo_url", "Bytes"],
                ["additional", "Bytes"],
            ],
        },
        "ChainIdentityOfV2": {
            "type": "struct",
            "type_mapping": [
                ["name", "Bytes"],
                ["url", "Bytes"],
                ["github_repo", "Bytes"],
                ["image", "Bytes"],
                ["discord", "Bytes"],
                ["description", "Bytes"],
                ["additional", "Bytes"],
            ],
        },
        "SvAxonInfo": {
            "type": "struct",
            "type_mapping": [
                ["block", "u64"],
                ["version", "u32"],
                ["ip", "u128"],
                ["port", "u16"],
                ["ip_type", "u8"],
                ["protocol", "u8"],
                ["placeholder1", "u8"],
                ["placeholder2", "u8"],
            ],
        },
        "SvMetagraph": {
            "type": "struct",
            "type_mapping": [
                ["netuid", "Compact<u16>"],
                ["name", "Vec<Compact<u8>>"],
                ["symbol", "Vec<Compact<u8>>"],
                ["identity", "Option<SubnetIdentityV3>"],
                ["network_registered_at", "Compact<u64>"],
                ["owner_hotkey", "[u8; 32]"],
                ["owner_coldkey", "[u8; 32]"],
                ["block", "Compact<u64>"],
                ["tempo", "Compact<u16>"],
                ["last_step", "Compact<u64>"],
                ["blocks_since_last_step", "Compact<u64>"],
                ["subnet_emission", "Compact<u64>"],
                ["alpha_in", "Compact<u64>"],
                ["alpha_out", "Compact<u64>"],
                ["tao_in", "Compact<u64>"],
                ["alpha_out_emission", "Compact<u64>"],
                ["alpha_in_emission", "Compact<u64>"],
                ["tao_in_emission", "Compact<u64>"],
                ["pending_alpha_emission", "Compact<u64>"],
                ["pending_root_emission", "Compact<u64>"],
                ["subnet_volume", "Compact<u128>"],
                ["moving_price", "i128"],
                ["rho", "Compact<u16>"],
                ["kappa", "Compact<u16>"],
                ["min_allowed_weights", "Compact<u16>"],
                ["max_weights_limit", "Compact<u16>"],
                ["weights_version", "Compact<u64>"],
                ["weights_rate_limit", "Compact<u64>"],
                ["activity_cutoff", "Compact<u64>"],
                ["max_validators", "Compact<u16>"],
                ["num_uids", "Compact<u16>"],
                ["max_uids", "Compact<u16>"],
                ["burn", "Compact<u64>"],
                ["difficulty", "Compact<u64>"],
                ["registration_allowed", "bool"],
                ["pow_registration_allowed", "bool"],
                ["immunity_period", "Compact<u16>"],
                ["min_difficulty", "Compact<u64>"],
                ["max_difficulty", "Compact<u64>"],
                ["min_burn", "Compact<u64>"],
                ["max_burn", "Compact<u64>"],
                ["adjustment_alpha", "Compact<u64>"],
                ["adjustment_interval", "Compact<u16>"],
                ["target_regs_per_interval", "Compact<u16>"],
                ["max_regs_per_block", "Compact<u16>"],
                ["serving_rate_limit", "Compact<u64>"],
                ["commit_reveal_weights_enabled", "bool"],
                ["commit_reveal_period", "Compact<u64>"],
                ["liquid_alpha_enabled", "bool"],
                ["alpha_high", "Compact<u16>"],
                ["alpha_low", "Compact<u16>"],
                ["bonds_moving_avg", "Compact<u64>"],
                ["hotkeys", "Vec<[u8; 32]>"],
                ["coldkeys", "Vec<[u8; 32]>"],
                ["identities", "Vec<Option<ChainIdentityOfV2>>"],
                ["axons", "Vec<SvAxonInfo>"],
                ["active", "Vec<bool>"],
                ["validator_permit", "Vec<bool>"],
                ["pruning_score", "Vec<Compact<u16>>"],
                ["last_update", "Vec<Compact<u64>>"],
                ["emission", "Vec<Compact<u64>>"],
                ["dividends", "Vec<Compact<u16>>"],
                ["incentives", "Vec<Compact<u16>>"],
                ["consensus", "Vec<Compact<u16>>"],
                ["trust", "Vec<Compact<u16>>"],
                ["rank", "Vec<Compact<u16>>"],
                ["block_at_registration", "Vec<Compact<u64>>"],
                ["alpha_stake", "Vec<Compact<u64>>"],
                ["tao_stake", "Vec<Compact<u64>>"],
                ["total_stake", "Vec<Compact<u64>>"],
                ["tao_dividends_per_hotkey", "Vec<([u8; 32], Compact<u64>)>"],
                ["alpha_dividends_per_hotkey", "Vec<([u8; 32], Compact<u64>)>"],
            ],
        },
    }
}


def key(uri: str) -> Keypair:
    return Keypair.create_from_uri(uri)


def main() -> None:
    config = RuntimeConfigurationObject()
    config.update_type_registry(load_type_registry_preset("legacy"))
    config.update_type_registry(TYPES)

    # (uri, tao stake in TAO, identity?): a staked validator, our miner, a
    # low-stake validator, a big alpha-only holder, a whale with a huge stake.
    neurons = [
        ("//Alice", 5000.5, True),
        ("//Bob", 0, False),
        ("//Charlie", 10, False),
        ("//Dave", 999.999999999, True),
        ("//Eve", 2_500_000, False),
    ]
    n = len(neurons)
    hotkeys = ["0x" + key(uri).public_key.hex() for uri, _, _ in neurons]
    coldkeys = ["0x" + key(uri + "//cold").public_key.hex() for uri, _, _ in neurons]
    tao = [int(round(t * RAO)) for _, t, _ in neurons]
    alpha = [i * 123_456_789_000 for i in range(n)]
    identity = {
        "name": b"val".hex(),
        "url": "0x",
        "github_repo": "0x",
        "image": "0x",
        "discord": "0x",
        "description": ("0x" + "long description with more than 63 bytes, so lengths use two bytes ".encode().hex()),
        "additional": "0x",
    }
    value = {
        "netuid": NETUID,
        "name": list("score".encode()),
        "symbol": list("ש".encode()),  # non-ASCII: bytes >= 64 are two-byte compacts
        "identity": {
            "subnet_name": "0x" + b"Score".hex(),
            "github_repo": "0x",
            "subnet_contact": "0x",
            "subnet_url": "0x",
            "discord": "0x",
            "description": "0x",
            "logo_url": "0x",
            "additional": "0x",
        },
        "network_registered_at": 4_000_000,
        "owner_hotkey": hotkeys[0],
        "owner_coldkey": coldkeys[0],
        "block": 6_543_210,
        "tempo": 360,
        "last_step": 6_543_000,
        "blocks_since_last_step": 210,
        "subnet_emission": 0,
        "alpha_in": 10**15,
        "alpha_out": 2 * 10**15,
        "tao_in": 10**14,
        "alpha_out_emission": 10**9,
        "alpha_in_emission": 5 * 10**8,
        "tao_in_emission": 10**7,
        "pending_alpha_emission": 12345,
        "pending_root_emission": 0,
        "subnet_volume": 2**100 + 7,
        "moving_price": -(2**70),
        "rho": 10,
        "kappa": 32767,
        "min_allowed_weights": 1,
        "max_weights_limit": 65535,
        "weights_version": 2**40,
        "weights_rate_limit": 100,
        "activity_cutoff": 5000,
        "max_validators": 64,
        "num_uids": n,
        "max_uids": 256,
        "burn": 5 * 10**8,
        "difficulty": 10**18,
        "registration_allowed": True,
        "pow_registration_allowed": False,
        "immunity_period": 5000,
        "min_difficulty": 10**7,
        "max_difficulty": 2**63,
        "min_burn": 5 * 10**8,
        "max_burn": 10**11,
        "adjustment_alpha": 2**62,
        "adjustment_interval": 112,
        "target_regs_per_interval": 2,
        "max_regs_per_block": 1,
        "serving_rate_limit": 50,
        "commit_reveal_weights_enabled": True,
        "commit_reveal_period": 1,
        "liquid_alpha_enabled": False,
        "alpha_high": 58982,
        "alpha_low": 45875,
        "bonds_moving_avg": 900_000,
        "hotkeys": hotkeys,
        "coldkeys": coldkeys,
        "identities": [identity if has else None for _, _, has in neurons],
        "axons": [
            {
                "block": 6_000_000 + i,
                "version": 1,
                "ip": 0x7F000001 + i,
                "port": 7999,
                "ip_type": 4,
                "protocol": 4,
                "placeholder1": 0,
                "placeholder2": 0,
            }
            for i in range(n)
        ],
        "active": [True] * n,
        "validator_permit": [i != 1 for i in range(n)],
        "pruning_score": [],
        "last_update": [6_543_000 - i for i in range(n)],
        "emission": [i * 1000 for i in range(n)],
        "dividends": [65535 // (i + 1) for i in range(n)],
        "incentives": [0] * n,
        "consensus": [100 * i for i in range(n)],
        "trust": [],
        "rank": [],
        "block_at_registration": [4_000_000 + i for i in range(n)],
        "alpha_stake": alpha,
        "tao_stake": tao,
        "total_stake": [a + t for a, t in zip(alpha, tao)],
        "tao_dividends_per_hotkey": [(h, 17 * i) for i, h in enumerate(hotkeys)],
        "alpha_dividends_per_hotkey": [(h, 2**40 + i) for i, h in enumerate(hotkeys)],
    }
    obj = config.create_scale_object("Option<SvMetagraph>")
    encoded = obj.encode(value)

    # Decode back with the same codec as a self-check of the registry.
    check = config.create_scale_object("Option<SvMetagraph>", data=encoded)
    decoded = check.decode()
    assert decoded["tao_stake"] == tao, decoded["tao_stake"]

    fixture = {
        "comment": "Written by tests/fiber/make_metagraph_fixture.py (scalecodec 1.2.12); do not edit.",
        "netuid": NETUID,
        "method": "SubnetInfoRuntimeApi_get_metagraph",
        "params_hex": "0x" + NETUID.to_bytes(2, "little").hex(),
        "result_hex": encoded.to_hex(),
        "block": value["block"],
        "num_uids": n,
        "tao_stake_rao": {key(uri).ss58_address: t for (uri, _, _), t in zip(neurons, tao)},
    }
    out = pathlib.Path(__file__).parent / "fixtures" / "metagraph_sn44.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(fixture, indent=2) + "\n")
    print(f"wrote {out} ({len(encoded.data)} bytes of SCALE)")


if __name__ == "__main__":
    main()
