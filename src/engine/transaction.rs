//! One batch, one transaction.

use std::future::Future;

use super::on_source;
use crate::error::UserError;
use crate::source::backend::Backend;

/// Run `body` between BEGIN and COMMIT; roll back if it fails. If the process dies instead, the
/// database rolls the open transaction back when the connection drops.
pub async fn in_transaction<T>(
    db: &dyn Backend,
    body: impl Future<Output = Result<T, UserError>>,
) -> Result<T, UserError> {
    in_transaction_from(db, db.dialect().begin_sql(), body).await
}

/// [`in_transaction`], started by `begin` (a snapshot, for the capture).
pub async fn in_transaction_from<T>(
    db: &dyn Backend,
    begin_sql: &str,
    body: impl Future<Output = Result<T, UserError>>,
) -> Result<T, UserError> {
    let mut begin = db.dialect().statement();
    begin.push(begin_sql);
    db.execute(begin).await.map_err(on_source(db, "cannot start a batch"))?;
    match body.await {
        Ok(value) => {
            let mut commit = db.dialect().statement();
            commit.push("COMMIT");
            if let Err(e) = db.execute(commit).await {
                // A COMMIT that fails (a deferred constraint on SQLite) can leave the
                // transaction open: end it, so the next batch starts clean.
                let mut rollback = db.dialect().statement();
                rollback.push("ROLLBACK");
                let _ = db.execute(rollback).await;
                return Err(on_source(db, "cannot commit a batch")(e));
            }
            Ok(value)
        }
        Err(e) => {
            let mut rollback = db.dialect().statement();
            rollback.push("ROLLBACK");
            let _ = db.execute(rollback).await;
            Err(e)
        }
    }
}
