//! SS58 addresses (substrate's base58 account encoding), prefix 42 only.
//!
//! Layout: `prefix(1) || pubkey(32) || checksum(2)`, where the checksum is the
//! first two bytes of blake2b-512(`b"SS58PRE" || prefix || pubkey`).

use blake2::{Blake2b512, Digest};

/// The generic substrate prefix bittensor addresses use.
pub const PREFIX: u8 = 42;
const CONTEXT: &[u8] = b"SS58PRE";
const ADDRESS_LEN: usize = 1 + 32 + 2;

/// Why an address was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ss58Error {
    /// A character outside bitcoin's base58 alphabet.
    #[error("not base58")]
    NotBase58,
    /// Decodes to this many bytes instead of 35 (prefix, key, checksum).
    #[error("decodes to {0} bytes, expected {ADDRESS_LEN}")]
    Length(usize),
    /// An address for another network: this prefix instead of 42.
    #[error("network prefix {0}, expected {PREFIX}")]
    Prefix(u8),
    /// The two checksum bytes do not match the prefix and key: a typo.
    #[error("bad checksum")]
    Checksum,
}

fn checksum(prefix_and_key: &[u8]) -> [u8; 2] {
    let mut hasher = Blake2b512::new();
    hasher.update(CONTEXT);
    hasher.update(prefix_and_key);
    let digest = hasher.finalize();
    [digest[0], digest[1]]
}

/// Decodes a prefix-42 address into its 32-byte public key.
pub fn decode(address: &str) -> Result<[u8; 32], Ss58Error> {
    let bytes = bs58::decode(address)
        .into_vec()
        .map_err(|_| Ss58Error::NotBase58)?;
    if bytes.len() != ADDRESS_LEN {
        return Err(Ss58Error::Length(bytes.len()));
    }
    if bytes[0] != PREFIX {
        return Err(Ss58Error::Prefix(bytes[0]));
    }
    if checksum(&bytes[..33]) != bytes[33..] {
        return Err(Ss58Error::Checksum);
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes[1..33]);
    Ok(key)
}

/// Encodes a public key as a prefix-42 address.
pub fn encode(key: &[u8; 32]) -> String {
    let mut bytes = Vec::with_capacity(ADDRESS_LEN);
    bytes.push(PREFIX);
    bytes.extend_from_slice(key);
    let sum = checksum(&bytes);
    bytes.extend_from_slice(&sum);
    bs58::encode(bytes).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Public keys and addresses printed by substrate-interface 1.7.10
    // (`Keypair.create_from_uri("//Alice")` etc.), not by this code.
    const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    const ALICE_KEY: &str = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
    const BOB: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
    const BOB_KEY: &str = "8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48";

    #[test]
    fn decodes_dev_keys() {
        assert_eq!(hex::encode(decode(ALICE).unwrap()), ALICE_KEY);
        assert_eq!(hex::encode(decode(BOB).unwrap()), BOB_KEY);
    }

    #[test]
    fn encodes_dev_keys() {
        let key: [u8; 32] = hex::decode(ALICE_KEY).unwrap().try_into().unwrap();
        assert_eq!(encode(&key), ALICE);
    }

    #[test]
    fn rejects_a_changed_character() {
        // Last character changed: only the checksum bytes differ.
        let bad = format!("{}Z", &ALICE[..ALICE.len() - 1]);
        assert_eq!(decode(&bad), Err(Ss58Error::Checksum));
    }

    #[test]
    fn rejects_bad_lengths_and_alphabet() {
        assert!(matches!(decode(&ALICE[..40]), Err(Ss58Error::Length(_))));
        assert!(matches!(
            decode(&format!("{ALICE}1")),
            Err(Ss58Error::Length(_))
        ));
        assert_eq!(decode("0OIl"), Err(Ss58Error::NotBase58));
        assert!(matches!(decode(""), Err(Ss58Error::Length(0))));
    }

    #[test]
    fn rejects_other_prefixes() {
        // Polkadot (prefix 0) encoding of Alice's key.
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(&decode(ALICE).unwrap());
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum);
        let polkadot = bs58::encode(bytes).into_string();
        assert_eq!(decode(&polkadot), Err(Ss58Error::Prefix(0)));
    }
}
