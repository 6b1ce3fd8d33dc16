//! How the load client answers a challenge: as a real client does (a fresh `a` per logon,
//! three modular exponentiations), or with `--fixed-ephemeral` (one `a` for the whole run and
//! `k·v` computed once per salt, one exponentiation per logon: see
//! [`crate::srp6::fixed_ephemeral`]). Either way M1 is right and M2 is checked.

use crate::account::{AccountName, Password};
use crate::srp6::fixed_ephemeral::FixedEphemeralClient;
use crate::srp6::{ClientHandshake, PublicKey, Salt, Srp6Error};

/// Answers challenges for one account.
#[derive(Debug)]
pub struct Prover {
    name: AccountName,
    password: Password,
    /// `Some` with `--fixed-ephemeral`: the client made for the last salt seen (`None` inside
    /// until the first challenge).
    fixed: Option<Option<FixedEphemeralClient>>,
}

impl Prover {
    pub fn new(name: AccountName, password: Password, fixed_ephemeral: bool) -> Self {
        Self {
            name,
            password,
            fixed: fixed_ephemeral.then_some(None),
        }
    }

    /// A, M1, K and the M2 to expect, for the account's `salt` and the server's B.
    pub fn answer(
        &mut self,
        salt: &Salt,
        server_public_key: &PublicKey,
    ) -> Result<ClientHandshake, Srp6Error> {
        let Some(cached) = &mut self.fixed else {
            return ClientHandshake::new(&self.name, &self.password, salt, server_public_key);
        };
        let client = match cached {
            Some(client) if client.salt() == salt => client,
            _ => cached.insert(FixedEphemeralClient::random(
                &self.name,
                &self.password,
                salt,
            )),
        };
        client.handshake(server_public_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srp6::{compute_verifier, ServerHandshake};

    fn logs_in(fixed: bool) {
        let name = AccountName::parse(b"LOADTEST").unwrap();
        let password = Password::parse(b"SECRET").unwrap();
        let mut prover = Prover::new(name, password.clone(), fixed);
        // Two salts: a password change between logons must not leave a stale fixed client.
        for salt in [Salt([1; 32]), Salt([1; 32]), Salt([2; 32])] {
            let server = ServerHandshake::new(compute_verifier(&name, &password, &salt), salt);
            let answer = prover.answer(&salt, server.public_key()).unwrap();
            let ok = server.verify(&name, &answer.public_key, &answer.client_proof);
            assert!(answer.verify_server_proof(&ok.expect("proof accepted").server_proof));
        }
    }

    #[test]
    fn both_ways_log_in_across_a_salt_change() {
        logs_in(false);
        logs_in(true);
    }
}
