//! Token secrets: how they are made and hashed. Only the hash is stored.
//!
//! A token reads `vst_<token_id>_<secret>`: the id lets operators name a token in
//! `token_del` and logs without revealing it; the secret is 32 random bytes. The
//! stored hash is the SHA-256 of the whole string; tokens are random and long, so
//! a fast hash is enough.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A freshly made token: the string to hand out once, its id and its hash.
pub struct NewToken {
    pub token: String,
    pub token_id: String,
    pub hash: String,
}

/// Makes a new random token.
pub fn new_token() -> NewToken {
    let mut rng = rand::thread_rng();
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    let token_id = hex::encode(id);
    let token = format!("vst_{token_id}_{}", hex::encode(secret));
    let hash = hash(&token);
    NewToken { token, token_id, hash }
}

/// Wraps a token chosen by the operator (`--admin-token`); its id is derived from
/// its hash so it is stable across restarts.
pub fn given_token(token: &str) -> NewToken {
    let hash = hash(token);
    NewToken { token: token.to_string(), token_id: hash[..12].to_string(), hash }
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hash_to_their_stored_form() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a.token, b.token);
        assert!(a.token.starts_with(&format!("vst_{}_", a.token_id)));
        assert_eq!(hash(&a.token), a.hash);
        assert_eq!(a.hash.len(), 64);
    }

    #[test]
    fn given_tokens_have_stable_ids() {
        assert_eq!(given_token("s3cret").token_id, given_token("s3cret").token_id);
        assert_ne!(given_token("s3cret").hash, given_token("other").hash);
    }
}
