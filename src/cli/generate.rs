//! What is generated from the CLI's own definition (clap): shell completions
//! (`gatehouse completions SHELL`, on stdout) and man pages (`gatehouse man --out-dir DIR`:
//! `gatehouse.1` and one page per subcommand, `gatehouse-account.1`, …). `scripts/install.sh`
//! installs both by these names.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

#[derive(Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

#[derive(Args)]
pub struct ManArgs {
    /// The directory the pages are written to (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}

/// Prints the completion script for `shell` to stdout.
pub fn completions(mut cmd: clap::Command, args: &CompletionsArgs) {
    let name = cmd.get_name().to_owned();
    clap_complete::generate(args.shell, &mut cmd, name, &mut std::io::stdout());
}

/// Writes `gatehouse.1` and a page for every subcommand, not the hidden ones, into `out_dir`;
/// says what it wrote.
pub fn man(cmd: clap::Command, args: &ManArgs) -> Result<()> {
    let dir: &Path = &args.out_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(cmd, dir)
        .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
    let pages = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".1"))
                .count()
        })
        .unwrap_or(0);
    println!("{pages} man pages in {}", dir.display());
    Ok(())
}
