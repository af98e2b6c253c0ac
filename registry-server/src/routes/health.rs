//! `/health` for load balancers and `/metrics` for Prometheus.

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use crate::app::AppState;
use crate::error::AppResult;

/// `GET /health`: 200 when the database answers.
pub(crate) async fn health(State(state): State<AppState>) -> AppResult<Json<serde_json::Value>> {
    state.db.ping().await?;
    Ok(Json(serde_json::json!({ "status": "ok" })))
}

/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
