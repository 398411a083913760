//! The table definitions, kept once in `infra/tables.json`: `template.yaml` declares the same
//! keys (a test compares them) and local development creates tables from this file.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use serde::Deserialize;

use crate::config::Tables;
use crate::error::Error;

pub const TABLES_JSON: &str = include_str!("../../../infra/tables.json");

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    #[serde(default)]
    pub description: String,
    pub attribute_definitions: Vec<Attribute>,
    pub key_schema: Vec<KeyElement>,
    #[serde(default)]
    pub time_to_live_specification: Option<TimeToLive>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<Index>,
}

/// A global secondary index (`KeyUsage`'s `org_id-day_key`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Index {
    pub index_name: String,
    pub key_schema: Vec<KeyElement>,
    pub projection: IndexProjection,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexProjection {
    pub projection_type: String,
    #[serde(default)]
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLive {
    pub attribute_name: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attribute {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyElement {
    pub attribute_name: String,
    pub key_type: String,
}

/// `ApiKeys`, `Orgs` and `KeyUsage`, by logical name.
pub fn definitions() -> BTreeMap<String, TableDefinition> {
    serde_json::from_str(TABLES_JSON).expect("infra/tables.json is valid (checked by a test)")
}

/// Creates each table that does not exist yet (local development and tests; in AWS the template
/// owns the tables).
pub async fn ensure_tables(client: &Client, tables: &Tables) -> Result<(), Error> {
    for (logical, physical) in [("ApiKeys", &tables.api_keys), ("Orgs", &tables.orgs)] {
        ensure_table(client, logical, physical).await?;
    }
    Ok(())
}

/// Creates the usage table (`USAGE_TABLE`) if it does not exist yet (local development, tests).
pub async fn ensure_usage_table(client: &Client, physical: &str) -> Result<(), Error> {
    ensure_table(client, "KeyUsage", physical).await
}

fn key_schema(elements: &[KeyElement]) -> Result<Vec<KeySchemaElement>, Error> {
    elements
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
        })
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Internal(e.to_string()))
}

async fn ensure_table(client: &Client, logical: &str, physical: &str) -> Result<(), Error> {
    let defs = definitions();
    {
        let def = &defs[logical];
        let mut indexes = Vec::new();
        for index in &def.global_secondary_indexes {
            let projection = Projection::builder()
                .projection_type(ProjectionType::from(index.projection.projection_type.as_str()))
                .set_non_key_attributes(
                    (!index.projection.non_key_attributes.is_empty())
                        .then(|| index.projection.non_key_attributes.clone()),
                )
                .build();
            indexes.push(
                GlobalSecondaryIndex::builder()
                    .index_name(&index.index_name)
                    .set_key_schema(Some(key_schema(&index.key_schema)?))
                    .projection(projection)
                    .build()
                    .map_err(|e| Error::Internal(e.to_string()))?,
            );
        }
        let result = client
            .create_table()
            .table_name(physical)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(
                def.attribute_definitions
                    .iter()
                    .map(|a| {
                        AttributeDefinition::builder()
                            .attribute_name(&a.attribute_name)
                            .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                            .build()
                    })
                    .collect::<Result<_, _>>()
                    .map_err(|e| Error::Internal(e.to_string()))?,
            ))
            .set_key_schema(Some(key_schema(&def.key_schema)?))
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => return Ok(()),
            Err(err) => return Err(super::dynamodb::sdk_error("CreateTable", err)),
        }
        if let Some(ttl) = &def.time_to_live_specification {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(&ttl.attribute_name)
                .enabled(ttl.enabled)
                .build()
                .map_err(|e| Error::Internal(e.to_string()))?;
            client
                .update_time_to_live()
                .table_name(physical)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| super::dynamodb::sdk_error("UpdateTimeToLive", e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_parse_and_key_attributes_are_defined() {
        let defs = definitions();
        assert_eq!(defs.keys().collect::<Vec<_>>(), ["ApiKeys", "KeyUsage", "Orgs"]);
        // Usage days expire 400 days on, batch markers after two.
        assert_eq!(
            defs["KeyUsage"].time_to_live_specification,
            Some(TimeToLive { attribute_name: "ttl".into(), enabled: true })
        );
        assert_eq!(defs["KeyUsage"].global_secondary_indexes[0].index_name, crate::store::USAGE_ORG_INDEX);
        for def in defs.values() {
            for k in &def.key_schema {
                assert!(def.attribute_definitions.iter().any(|a| a.attribute_name == k.attribute_name));
            }
        }
        assert_eq!(defs["ApiKeys"].key_schema[0].attribute_name, "key_hash");
        // Audit events expire by TTL; keys never do (an expired key stays, to say why it stopped).
        assert_eq!(
            defs["Orgs"].time_to_live_specification,
            Some(TimeToLive { attribute_name: "ttl".into(), enabled: true })
        );
        assert_eq!(defs["ApiKeys"].time_to_live_specification, None);
    }
}
