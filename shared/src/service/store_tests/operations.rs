//! Signup and the key lifecycle: who may, what reaches the store, what the caller gets back.

use super::*;

#[tokio::test]
async fn signup_with_an_org_name_creates_the_org_and_its_first_key_for_the_actor() {
    let store = Recorder::new();
    let request = SignupRequest::NewOrg { org_name: "Acme".into(), key_name: "first".into() };
    let response = signup(&store, &member(), request).await.unwrap();
    assert_eq!(store.calls(), [format!("create_org_with_key {MEMBER} req-member")]);
    let org = store.new_orgs.lock().unwrap()[0].clone();
    let key = store.new_key();
    assert_eq!(
        (org.org_id.as_str(), org.name.as_str(), org.owner_uid.as_str()),
        (response.org_id.as_str(), "Acme", MEMBER)
    );
    assert!(is_valid_org_id(&response.org_id));
    assert_eq!(org.webhook_secret.as_deref(), Some(response.webhook_secret.as_str()));
    assert_eq!(org.created_at, key.created_at);
    assert_secret_is_stored(&response.secret, &key);
    assert_eq!((key.name.as_str(), key.expires_at, key.rolled_from.as_deref()), ("first", None, None));
    assert_eq!(
        response.key,
        KeyView {
            id: key.key_id.clone(),
            name: "first".into(),
            prefix: key.prefix.clone(),
            created_at: rfc3339(key.created_at)
        }
    );
    assert_created_now(&response.key.created_at);
    assert!(is_valid_key_id(&response.key.id));

    // Only a person signs up: the operator and GitHub are refused before the store is asked.
    for audit in [operator(), github()] {
        let store = Recorder::new();
        let request = SignupRequest::NewOrg { org_name: "Acme".into(), key_name: "first".into() };
        assert!(matches!(signup(&store, &audit, request).await, Err(Error::OrgNotFound)));
        assert!(store.calls().is_empty());
    }
}

#[tokio::test]
async fn signup_with_an_existing_org_id_enables_that_org_and_refuses_impossible_ids_unread() {
    let store = Recorder::new();
    let request = SignupRequest::ExistingOrg { org_id: ORG.into(), key_name: "first".into() };
    let response = signup(&store, &member(), request).await.unwrap();
    assert_eq!(store.calls(), [format!("enable_api {ORG} req-member")]);
    assert_eq!(response.org_id, ORG);
    assert!(response.webhook_secret.starts_with("whsec_"));
    assert_secret_is_stored(&response.secret, &store.new_key());
    assert_eq!(response.key.name, "first");

    for bad in BAD_ORG_IDS {
        let store = Recorder::new();
        let request = SignupRequest::ExistingOrg { org_id: bad.into(), key_name: "first".into() };
        assert!(matches!(signup(&store, &member(), request).await, Err(Error::OrgNotFound)), "{bad}");
        assert!(store.calls().is_empty(), "{bad}");
    }
}

#[tokio::test]
async fn create_key_stores_the_hash_and_returns_the_key_once() {
    let store = Recorder::new();
    let expires_at = NOW + 86_400;
    let request =
        CreateKeyRequest { name: "ci".into(), expires_at: Some(expires_at), restrictions: Default::default() };
    let created = create_key(&store, ORG, request, &member()).await.unwrap();
    assert_eq!(store.calls(), [format!("create_key {ORG} req-member")]);
    let key = store.new_key();
    assert_secret_is_stored(&created.secret, &key);
    assert_eq!((created.id.as_str(), created.name.as_str()), (key.key_id.as_str(), "ci"));
    assert_eq!(
        (created.prefix.as_str(), created.created_at.as_str()),
        (key.prefix.as_str(), rfc3339(key.created_at).as_str())
    );
    assert_eq!((key.expires_at, key.rolled_from), (Some(expires_at), None));
    assert_eq!(created.expires_at.as_deref(), Some(rfc3339(expires_at).as_str()));
    assert_created_now(&created.created_at);

    for bad in BAD_ORG_IDS {
        let store = Recorder::new();
        let request = CreateKeyRequest { name: "ci".into(), expires_at: None, restrictions: Default::default() };
        assert!(matches!(create_key(&store, bad, request, &member()).await, Err(Error::OrgNotFound)), "{bad}");
        assert!(store.calls().is_empty(), "{bad}");
    }
}

#[tokio::test]
async fn listings_are_for_members_only_and_say_whether_more_follows() {
    let query = ListQuery { limit: 20, cursor: None, include_revoked: false };
    for next in [None, Some("key_0002".to_owned())] {
        let store = Recorder { next_cursor: next.clone(), ..Recorder::new() };
        let list = list_keys(&store, MEMBER, ORG, &query, NOW).await.unwrap();
        assert_eq!(store.calls(), [format!("is_member {ORG} {MEMBER}"), format!("list_keys {ORG} 20 {NOW}")]);
        assert_eq!((list.has_more, list.next_cursor), (next.is_some(), next));
        assert_eq!(list.data, [summary(KEY, "k")]);
    }
    let events = EventQuery { limit: 7, cursor: None };
    let store = Recorder::new();
    let page = list_events(&store, MEMBER, ORG, &events).await.unwrap();
    assert_eq!(store.calls(), [format!("is_member {ORG} {MEMBER}"), format!("list_events {ORG} 7")]);
    assert_eq!(page.data.len(), 1);

    // A stranger, and an org id that cannot exist, look the same: 404, and nothing listed.
    let store = Recorder::new();
    assert!(matches!(list_keys(&store, STRANGER, ORG, &query, NOW).await, Err(Error::OrgNotFound)));
    assert!(matches!(list_events(&store, STRANGER, ORG, &events).await, Err(Error::OrgNotFound)));
    assert_eq!(store.calls(), [format!("is_member {ORG} {STRANGER}"), format!("is_member {ORG} {STRANGER}")]);
    for bad in BAD_ORG_IDS {
        let store = Recorder::new();
        assert!(matches!(list_keys(&store, MEMBER, bad, &query, NOW).await, Err(Error::OrgNotFound)), "{bad}");
        assert!(matches!(list_events(&store, MEMBER, bad, &events).await, Err(Error::OrgNotFound)), "{bad}");
        assert!(store.calls().is_empty(), "{bad}: not even a membership read");
    }
}

#[tokio::test]
async fn a_revoke_records_who_revoked_and_passes_on_whether_it_did() {
    for revoked in [true, false] {
        let store = Recorder { revoked, ..Recorder::new() };
        assert_eq!(revoke_key(&store, ORG, KEY, &member()).await.unwrap(), revoked);
        assert_eq!(
            store.calls(),
            [format!("is_member {ORG} {MEMBER}"), format!("revoke_key {ORG} {KEY} revoked req-member")]
        );
    }
    // The operator and GitHub need no membership; only the operator's revoke reads `operator`.
    let store = Recorder::new();
    assert!(revoke_key(&store, ORG, KEY, &operator()).await.unwrap());
    assert!(revoke_key(&store, ORG, KEY, &github()).await.unwrap());
    assert_eq!(
        store.calls(),
        [format!("revoke_key {ORG} {KEY} operator req-operator"), format!("revoke_key {ORG} {KEY} revoked req-github")]
    );
}

/// Every change to one key, as each actor: who is refused, with what, after which reads.
#[tokio::test]
async fn a_change_to_a_key_needs_membership_a_possible_org_and_a_possible_key_id() {
    type Outcome = Result<(), &'static str>;
    async fn each_change(store: &Recorder, org: &str, key: &str, audit: &Audit) -> [Outcome; 3] {
        let code = |e: Error| e.code();
        [
            revoke_key(store, org, key, audit).await.map(drop).map_err(code),
            roll_key(store, org, key, roll_request(None), audit).await.map(drop).map_err(code),
            update_key(store, org, key, &rename("renamed"), audit).await.map(drop).map_err(code),
        ]
    }
    let refused = |code| [Err(code); 3];

    // A stranger is refused on membership, before anything about the key is read.
    let store = Recorder::new();
    assert_eq!(each_change(&store, ORG, KEY, &stranger()).await, refused("org_not_found"));
    assert_eq!(store.calls(), vec![format!("is_member {ORG} {STRANGER}"); 3]);
    let store = Recorder::new();
    assert_eq!(each_change(&store, ORG, "not-a-key", &stranger()).await, refused("org_not_found"));
    assert_eq!(store.calls(), vec![format!("is_member {ORG} {STRANGER}"); 3]);

    for audit in [member(), operator()] {
        // An org id that cannot exist: 404 without a read, whoever asks.
        for bad in BAD_ORG_IDS {
            let store = Recorder::new();
            assert_eq!(each_change(&store, bad, KEY, &audit).await, refused("org_not_found"), "{bad}");
            assert!(store.calls().is_empty(), "{bad}");
        }
        // A key id that cannot exist: 404 key_not_found, the store never asked about the key.
        for bad in BAD_KEY_IDS {
            let store = Recorder::new();
            assert_eq!(each_change(&store, ORG, bad, &audit).await, refused("key_not_found"), "{bad}");
            assert!(store.calls().iter().all(|c| c.starts_with("is_member")), "{bad}: {:?}", store.calls());
        }
        let store = Recorder::new();
        assert_eq!(each_change(&store, ORG, KEY, &audit).await, [Ok(()); 3]);
        assert_eq!(store.calls().iter().filter(|c| !c.starts_with("is_member")).count(), 3);
    }
}

#[tokio::test]
async fn a_roll_passes_its_grace_and_name_and_answers_what_the_store_did() {
    // Without a name the new key keeps the old one's, which only the store knows.
    let store = Recorder::new();
    let rolled = roll_key(&store, ORG, KEY, roll_request(None), &member()).await.unwrap();
    assert_eq!(
        store.calls(),
        [format!("is_member {ORG} {MEMBER}"), format!("roll_key {ORG} {KEY} keep_name=true grace=600 req-member")]
    );
    let new = store.new_key();
    assert_eq!((new.rolled_from.as_deref(), new.expires_at), (Some(KEY), Some(NOW + 86_400)));
    assert_secret_is_stored(&rolled.key.secret, &new);
    assert_eq!((rolled.key.id.as_str(), rolled.key.name.as_str()), (new.key_id.as_str(), "kept"));
    assert_eq!(rolled.key.expires_at.as_deref(), Some(rfc3339(NOW + 86_400).as_str()));
    assert_eq!((rolled.rolled_from.as_str(), rolled.old_key_expires_at.as_str()), (KEY, rfc3339(NOW + 3600).as_str()));
    assert_created_now(&rolled.key.created_at);

    // The lists too are the store's answer (the old key's, or the request's over them): the new
    // key's response shows what was stored, not the unrestricted draft.
    let settled = Restrictions { formats: Some(vec!["pdf".into()]), ..Restrictions::default() };
    let store = Recorder {
        rolled: Rolled { old_key_expires_at: NOW, name: "v2".into(), restrictions: settled.clone() },
        ..Recorder::new()
    };
    let rolled = roll_key(&store, ORG, KEY, roll_request(Some("v2")), &operator()).await.unwrap();
    assert_eq!(store.calls(), [format!("roll_key {ORG} {KEY} keep_name=false grace=600 req-operator")]);
    assert_eq!(store.new_key().name, "v2");
    assert_eq!((rolled.key.name.as_str(), rolled.old_key_expires_at), ("v2", rfc3339(NOW)));
    assert_eq!(rolled.key.restrictions, settled);

    let store = Recorder::new();
    let renamed = update_key(&store, ORG, KEY, &rename("renamed"), &member()).await.unwrap();
    assert_eq!(renamed, summary(KEY, "renamed"));
    assert_eq!(store.calls()[1], format!("update_key {ORG} {KEY} renamed req-member"));
}
