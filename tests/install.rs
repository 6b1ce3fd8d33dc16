//! `scripts/install.sh` run into a staging root (`DESTDIR`, `--binary` the test build): what it
//! writes and with which modes (a config readable by nobody else, a database only its owner
//! reads), and that a second run keeps an edited config and an existing database.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn install(destdir: &Path) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_gatehouse"))
        .env("DESTDIR", destdir)
        .env_remove("PREFIX")
        .env_remove("UNIT_DIR")
        .output()
        .expect("run scripts/install.sh");
    assert!(
        out.status.success(),
        "install.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Whether the binary under test has a subcommand (completions and man pages are built by
/// someone else; the installer skips what the binary cannot generate).
fn has_command(name: &str) -> bool {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([name, "--help"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn install_sh_stages_a_private_config_and_database_and_keeps_them_on_a_second_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    install(&root);

    let binary = root.join("usr/local/bin/gatehouse");
    let config = root.join("etc/gatehouse/gatehouse.toml");
    let db = root.join("var/lib/gatehouse/gatehouse.db");
    let unit = root.join("etc/systemd/system/gatehouse.service");
    assert_eq!(mode(&binary), 0o755);
    assert_eq!(mode(&config), 0o640, "the config holds totp.key");
    assert_eq!(mode(&root.join("etc/gatehouse")), 0o750);
    assert_eq!(mode(&db), 0o600, "the database holds session keys");
    assert_eq!(mode(&root.join("var/lib/gatehouse")), 0o700);
    assert_eq!(mode(&unit), 0o644);
    assert!(fs::read_to_string(&config).unwrap().contains("[totp]"));
    assert!(fs::read_to_string(&unit)
        .unwrap()
        .contains("ExecStart=/usr/local/bin/gatehouse serve"));
    assert!(root
        .join("usr/local/share/doc/gatehouse/README.md")
        .is_file());

    if has_command("completions") {
        for file in [
            "usr/share/bash-completion/completions/gatehouse",
            "usr/share/zsh/vendor-completions/_gatehouse",
            "usr/share/fish/vendor_completions.d/gatehouse.fish",
        ] {
            let path = root.join(file);
            assert!(fs::metadata(&path).unwrap().len() > 0, "{file} is empty");
            assert_eq!(mode(&path), 0o644);
        }
    }
    if has_command("man") {
        assert!(root.join("usr/local/share/man/man1/gatehouse.1").is_file());
    }

    // An operator's edit, and the mode an older install.sh left: the edit stays, the mode
    // is taken back; the database is not recreated.
    let mut edited = fs::read_to_string(&config).unwrap();
    edited.push_str("# edited by the operator\n");
    fs::write(&config, &edited).unwrap();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).unwrap();
    let db_before = fs::read(&db).unwrap();
    fs::write(root.join("var/lib/gatehouse/marker"), b"x").unwrap();

    let again = install(&root);
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(
        said.contains("kept the existing /etc/gatehouse/gatehouse.toml"),
        "{said}"
    );
    assert!(
        said.contains("kept the existing /var/lib/gatehouse/gatehouse.db"),
        "{said}"
    );
    assert_eq!(fs::read_to_string(&config).unwrap(), edited);
    assert_eq!(mode(&config), 0o640);
    assert_eq!(fs::read(&db).unwrap(), db_before);
    assert!(root.join("var/lib/gatehouse/marker").is_file());
}

#[test]
fn install_sh_refuses_to_build_as_plain_root_and_unknown_arguments() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("--frobnicate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown argument '--frobnicate'"), "{err}");

    // A binary that is not there is refused before anything is written.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(&script)
        .args(["--binary", "/nonexistent/gatehouse"])
        .env("DESTDIR", dir.path().join("root"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an executable file"));
    assert!(!dir.path().join("root").exists());

    // As root with nobody to build as, it will not run cargo (as another user it would build).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let out = Command::new("bash")
            .arg(&script)
            .env("DESTDIR", dir.path().join("root"))
            .env_remove("SUDO_USER")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("refusing to run cargo as root"), "{err}");
    }
}
