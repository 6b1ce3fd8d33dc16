//! `gatehouse audit`'s filters as SQL, written once for every backend: each backend runs the
//! statements this builds on its own driver and hands the rows back. An address filter for a
//! whole network is applied here, on the rows, because the address column is text; the
//! statements then page through the table newest first until enough rows matched.

use super::{ip_text, AuditQuery, AuditRow, StoreError};

/// A statement parameter, in the two types the audit columns need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
}

/// One page's statement: `SELECT id, at, account_id, account_name, peer_ip, build, outcome`
/// with `?` placeholders, and its parameters in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageSql {
    pub sql: String,
    pub params: Vec<Param>,
}

/// Rows a page fetches when a network filter makes some of them drop out.
const NETWORK_PAGE: u32 = 1000;

/// The network filter, when it is one (a single address is matched in SQL).
fn network(query: &AuditQuery) -> Option<ipnet::IpNet> {
    query
        .address
        .filter(|net| net.prefix_len() < net.max_prefix_len())
}

fn page_sql(table: &str, query: &AuditQuery, before_id: Option<i64>, page: u32) -> PageSql {
    let mut sql = format!(
        "SELECT id, at, account_id, account_name, peer_ip, build, outcome FROM {table} \
         WHERE 1 = 1"
    );
    let mut params = Vec::new();
    if let Some(name) = &query.account {
        sql.push_str(" AND account_name = ?");
        params.push(Param::Text(name.as_str().to_owned()));
    }
    if let Some(net) = query.address {
        if network(query).is_none() {
            sql.push_str(" AND peer_ip = ?");
            params.push(Param::Text(ip_text(net.addr())));
        }
    }
    if let Some(since) = query.since {
        sql.push_str(" AND at >= ?");
        params.push(Param::Int(since));
    }
    if !query.outcomes.is_empty() {
        let marks = vec!["?"; query.outcomes.len()].join(", ");
        sql.push_str(&format!(" AND outcome IN ({marks})"));
        params.extend(
            query
                .outcomes
                .iter()
                .map(|o| Param::Text(o.as_str().to_owned())),
        );
    }
    if let Some(id) = before_id {
        sql.push_str(" AND id < ?");
        params.push(Param::Int(id));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {page}"));
    PageSql { sql, params }
}

/// Runs `query` on `table`: `fetch` runs one page's statement and returns its rows with their
/// ids, newest first.
pub(crate) fn run(
    table: &str,
    query: &AuditQuery,
    mut fetch: impl FnMut(&PageSql) -> Result<Vec<(i64, AuditRow)>, StoreError>,
) -> Result<Vec<AuditRow>, StoreError> {
    let want = usize::try_from(query.limit).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    if want == 0 {
        return Ok(out);
    }
    let Some(net) = network(query) else {
        let rows = fetch(&page_sql(table, query, None, query.limit))?;
        return Ok(rows.into_iter().map(|(_, row)| row).collect());
    };
    let mut before = None;
    loop {
        let rows = fetch(&page_sql(table, query, before, NETWORK_PAGE))?;
        let short = rows.len() < usize::try_from(NETWORK_PAGE).unwrap_or(usize::MAX);
        for (id, row) in rows {
            before = Some(id);
            let inside = row
                .peer
                .trim()
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| net.contains(&ip.to_canonical()));
            if inside {
                out.push(row);
                if out.len() >= want {
                    return Ok(out);
                }
            }
        }
        if short {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::AccountName;
    use crate::store::LoginOutcome;

    #[test]
    fn filters_become_placeholders_in_order() {
        let query = AuditQuery {
            account: Some(AccountName::parse(b"alice").unwrap()),
            address: Some("10.0.0.7".parse::<std::net::IpAddr>().unwrap().into()),
            since: Some(100),
            outcomes: vec![LoginOutcome::Success, LoginOutcome::WrongPassword],
            limit: 5,
        };
        let page = page_sql("login_audit", &query, Some(9), 5);
        assert!(page.sql.contains(
            "account_name = ? AND peer_ip = ? AND at >= ? AND outcome IN (?, ?) AND id < ? \
             ORDER BY id DESC LIMIT 5"
        ));
        assert_eq!(
            page.params,
            vec![
                Param::Text("ALICE".into()),
                Param::Text("10.0.0.7".into()),
                Param::Int(100),
                Param::Text("success".into()),
                Param::Text("wrong_password".into()),
                Param::Int(9),
            ]
        );
        // A network is matched on the rows, not in SQL.
        let net = AuditQuery {
            address: Some("10.0.0.0/8".parse().unwrap()),
            ..AuditQuery::newest(5)
        };
        assert!(!page_sql("t", &net, None, 5).sql.contains("peer_ip = ?"));
    }

    #[test]
    fn a_network_pages_until_enough_rows_matched() {
        let row = |peer: &str| AuditRow {
            at: 1,
            account: None,
            name: "A".into(),
            peer: peer.into(),
            build: crate::protocol::version::Build(12340),
            outcome: "success".into(),
        };
        let query = AuditQuery {
            address: Some("10.0.0.0/8".parse().unwrap()),
            ..AuditQuery::newest(2)
        };
        let mut pages = 0;
        let rows = run("t", &query, |page| {
            pages += 1;
            let start = if page.params.is_empty() { 3000 } else { 2000 };
            Ok((0..1000)
                .map(|i| {
                    let id = start - i;
                    let peer = if id == 2500 || id == 1200 || id == 1100 {
                        "10.1.2.3"
                    } else {
                        "192.0.2.1"
                    };
                    (id, row(peer))
                })
                .collect())
        })
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(pages, 2);
    }
}
