//! Native-messaging host: framing, the request loop, and detection of browser launches.

pub mod framing;
pub mod host;

/// True when the arguments look like a browser launching the host: Chromium passes the
/// caller origin `chrome-extension://…/` (plus `--parent-window=` on Windows); Firefox passes
/// the host manifest path and the add-on id.
pub fn launched_by_browser(args: &[String]) -> bool {
    match args.get(1) {
        Some(first) if first.starts_with("chrome-extension://") => true,
        Some(first) => args.len() == 3 && first.ends_with(".json") && !args[2].starts_with('-'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn detects_browser_launches() {
        assert!(launched_by_browser(&args(&[
            "agent",
            "chrome-extension://abcdefghijklmnop/"
        ])));
        assert!(launched_by_browser(&args(&[
            "agent",
            "chrome-extension://x/",
            "--parent-window=0"
        ])));
        assert!(launched_by_browser(&args(&[
            "agent",
            "/usr/lib/mozilla/native-messaging-hosts/ru.tokenconfirm.agent.json",
            "tokenconfirm@tokenconfirm.ru"
        ])));
        assert!(!launched_by_browser(&args(&["agent", "list", "--json"])));
        assert!(!launched_by_browser(&args(&["agent"])));
    }
}
