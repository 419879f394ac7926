//! Who the client is: its address and whether it reached us over https. Behind a load balancer
//! the TCP peer is the balancer; only peers in `--trusted-proxies` are believed when they say
//! who the client is (`X-Forwarded-For`) and how it came (`X-Forwarded-Proto`). Everything
//! keyed on a client (sign-in and widget limits, secure cookies) reads [`ClientInfo`], which
//! the edge puts on every request.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, Request},
    http::HeaderMap,
};
use ipnet::IpNet;

/// The peers whose forwarding headers are believed (`--trusted-proxies`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list of CIDR blocks or single addresses: `10.0.0.0/8, 192.168.1.7`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let nets = text.split(',').map(str::trim).filter(|part| !part.is_empty()).map(|part| {
            part.parse::<IpNet>().or_else(|_| part.parse::<IpAddr>().map(IpNet::from)).map_err(|_| {
                format!("--trusted-proxies: {part:?} is not an address or CIDR block (e.g. 10.0.0.0/8, 192.168.1.7)")
            })
        });
        nets.collect::<Result<_, _>>().map(Self)
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`, per the forwarding headers when `peer` is trusted: the
    /// right-most `X-Forwarded-For` address that is not itself a trusted proxy (the ones to its
    /// left could be made up by the client), and the first `X-Forwarded-Proto`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> ClientInfo {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return ClientInfo { ip: peer, https: false };
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|part| parse_forwarded_address(part.trim()))
            .map(canonical)
            .collect();
        let ip = forwarded.iter().rev().find(|ip| !self.trusts(**ip)).or(forwarded.first()).copied().unwrap_or(peer);
        let proto = headers.get("x-forwarded-proto").and_then(|value| value.to_str().ok());
        let https = proto
            .and_then(|value| value.split(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
        ClientInfo { ip, https }
    }
}

/// `1.2.3.4`, `2001:db8::1`, `[2001:db8::1]:443` or `1.2.3.4:5678`.
fn parse_forwarded_address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>().ok().or_else(|| text.parse::<SocketAddr>().ok().map(|address| address.ip()))
}

/// IPv4 peers on a dual-stack socket arrive as `::ffff:a.b.c.d`: compared as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client of a request, as far as we can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: IpAddr,
    /// Reached us over https, as a trusted proxy says (our own listener is plain http).
    pub https: bool,
}

impl ClientInfo {
    /// The client of `request`: from the TCP peer and, when it is trusted, its forwarding
    /// headers. Requests without a peer address (in-process tests) count as from 127.0.0.1.
    pub fn of(request: &Request, proxies: &TrustedProxies) -> Self {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |ConnectInfo(peer)| peer.ip());
        proxies.client(peer, request.headers())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn lists_of_blocks_and_addresses_parse_and_bad_ones_are_named() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7,2001:db8::/32").unwrap();
        assert!(
            proxies.trusts(ip("10.1.2.3")) && proxies.trusts(ip("192.168.1.7")) && proxies.trusts(ip("2001:db8::5"))
        );
        assert!(!proxies.trusts(ip("192.168.1.8")) && !proxies.trusts(ip("11.0.0.1")));
        assert!(proxies.trusts(ip("::ffff:10.0.0.1")), "IPv4-mapped peers are IPv4");
        assert_eq!(TrustedProxies::parse("").unwrap(), TrustedProxies::default());
        assert!(TrustedProxies::parse("10.0.0.0/33").unwrap_err().contains("10.0.0.0/33"));
        assert!(TrustedProxies::parse("proxy.internal").is_err());
    }

    #[test]
    fn forwarding_headers_from_untrusted_peers_are_ignored() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let sent = headers(&[("x-forwarded-for", "203.0.113.9"), ("x-forwarded-proto", "https")]);
        assert_eq!(proxies.client(ip("198.51.100.1"), &sent), ClientInfo { ip: ip("198.51.100.1"), https: false });
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), &sent),
            ClientInfo { ip: ip("10.0.0.1"), https: false },
            "no trusted proxies: nobody is believed"
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_spoofed_entries_to_the_left_do_not_count() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let sent = headers(&[("x-forwarded-for", "203.0.113.9"), ("x-forwarded-proto", "https")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &sent), ClientInfo { ip: ip("203.0.113.9"), https: true });
        // The client sent "1.1.1.1" itself; the balancer appended the address it saw, then an
        // inner proxy (trusted) appended the balancer's.
        let chain = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.2"), ("x-forwarded-proto", "http")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &chain), ClientInfo { ip: ip("203.0.113.9"), https: false });
        let split = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "[2001:db8::9]:443")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &split).ip, ip("2001:db8::9"));
        let garbage = headers(&[("x-forwarded-for", "unknown, not-an-ip")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &garbage).ip, ip("10.0.0.1"), "nothing usable: the peer");
        let all_trusted = headers(&[("x-forwarded-for", "10.0.0.7, 10.0.0.2")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &all_trusted).ip, ip("10.0.0.7"));
    }
}
