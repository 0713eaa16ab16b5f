//! Tokens as file names, as websockify's TokenFileName reads them: the same directory opens a
//! real QEMU console through vncgate and through websockify itself; a removed file stops new
//! sessions and ends the live one; a name that leaves the directory opens nothing.

use crate::common::qemu::{self, Qemu};
use crate::common::websockify::{python, Websockify};
use crate::common::*;

#[tokio::test]
async fn token_named_files_open_a_qemu_console_through_vncgate_and_websockify() {
    if !qemu::available() {
        return;
    }
    let Some(python) = python("websockify") else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let vm = Qemu::start(work.path(), "", &[]);
    let names = work.path().join("names");
    std::fs::create_dir(&names).expect("dir");
    std::fs::write(
        names.join("vm-7f3a"),
        format!("127.0.0.1:{}\n", vm.addr.port()),
    )
    .expect("token");
    std::fs::write(
        work.path().join("outside"),
        format!("127.0.0.1:{}", vm.addr.port()),
    )
    .expect("outside");
    let proxy = start_proxy(
        &format!(
            "[vncgate]\ntoken_names_dir = {}\nsession_recheck_interval = 0.5\n",
            names.display()
        ),
        "",
    )
    .await;
    let (socket, _) = ws(proxy.addr, "/?token=vm-7f3a", &[])
        .await
        .expect("upgrade");
    let mut live = open_console(socket).await.expect("console");
    for path in ["/?token=..%2Foutside", "/?token=nothing"] {
        assert_eq!(refusal(ws(proxy.addr, path, &[]).await).0, 403, "{path}");
    }
    let websockify =
        Websockify::start(&python, "TokenFileName", &names.display().to_string()).await;
    assert_eq!(
        websockify.version("vm-7f3a").await.as_deref(),
        Ok(&b"RFB 003.008\n"[..])
    );
    std::fs::remove_file(names.join("vm-7f3a")).expect("remove");
    assert_eq!(refusal(ws(proxy.addr, "/?token=vm-7f3a", &[]).await).0, 403);
    let close =
        tokio::time::timeout(std::time::Duration::from_secs(5), next_close(&mut live.ws)).await;
    assert_eq!(
        close.ok().flatten().map(|(_, reason)| reason).as_deref(),
        Some("the console access was revoked")
    );
}
