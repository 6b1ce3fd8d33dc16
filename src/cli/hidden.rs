//! Passwords and secrets typed by the operator: read without echo, or one line from stdin.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context, Result};

/// What a hidden input is, for prompts and errors: the password or a realm's link secret.
pub struct Hidden {
    what: &'static str,
    prompt: &'static str,
    flag: &'static str,
}

pub const PASSWORD: Hidden = Hidden {
    what: "password",
    prompt: "Password: ",
    flag: "--password-stdin",
};

pub const PIN: Hidden = Hidden {
    what: "PIN",
    prompt: "PIN (4 to 10 digits): ",
    flag: "--pin-stdin",
};

pub const LINK_SECRET: Hidden = Hidden {
    what: "link secret",
    prompt: "Link secret: ",
    flag: "--link-secret-stdin",
};

/// Reads a password or secret: one line from stdin, or a no-echo prompt (twice when
/// `confirm`). Never echoed, printed or logged.
pub fn read_hidden(hidden: &Hidden, from_stdin: bool, confirm: bool) -> Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .with_context(|| format!("reading the {} from standard input", hidden.what))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no terminal to ask for the {}: use {}",
            hidden.what,
            hidden.flag
        );
    }
    let first = rpassword::prompt_password(hidden.prompt)
        .with_context(|| format!("reading the {}", hidden.what))?;
    if confirm {
        let again = rpassword::prompt_password("Again: ")
            .with_context(|| format!("reading the {}", hidden.what))?;
        if again != first {
            bail!("the {}s do not match", hidden.what);
        }
    }
    Ok(first)
}
