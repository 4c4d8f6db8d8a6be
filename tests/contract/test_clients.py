"""Our Graph and SharePoint clients against the emulator: shapes, "no photo", writes, faults.

Checklist items C1–C6 of security.md at the client level; the request counts come from the
emulator's own log (`tenant.requests_to(service)`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.clients import USER_AGENT, add_user
from tests.support.images import image_size, jpeg, mean_colour
from webapp.microsoft.errors import (
    AuthRequiredError,
    BadRequestError,
    ForbiddenError,
    ServiceUnavailableError,
    ThrottledError,
    UpstreamTimeoutError,
)
from webapp.microsoft.models import (
    DEFAULT_SELECT,
    SHAREPOINT_BACKED,
    Manager,
    SharePointProfile,
    normalise_origin,
)
from webapp.microsoft.requester import RetryPolicy
from webapp.microsoft.throttle import LocalThrottleGate

# -- Graph: /me -----------------------------------------------------------------------------------


def test_me_returns_the_selected_directory_fields(tenant, make_clients):
    user = add_user(
        tenant,
        directory={
            "givenName": "Adele",
            "surname": "Vance",
            "jobTitle": "Retail Manager",
            "department": "Retail",
            "businessPhones": ["+1 425 555 0109"],
            "companyName": "Contoso",
        },
    )
    me = make_clients(user).graph.me()
    assert me.id == user.oid
    assert me.user_principal_name == user.upn
    assert (me.given_name, me.surname, me.job_title, me.department) == (
        "Adele",
        "Vance",
        "Retail Manager",
        "Retail",
    )
    assert me.business_phones == ("+1 425 555 0109",)
    assert me.company_name == "Contoso"
    assert me.mobile_phone is None
    assert me.fields == frozenset(DEFAULT_SELECT)
    assert me.about_me is None and "aboutMe" not in me.fields
    [logged] = tenant.requests_to("graph")
    assert logged.query.startswith("$select=id,displayName,")


def test_sharepoint_backed_fields_come_back_when_selected(tenant, make_clients):
    clients = make_clients()
    me = clients.graph.me(select=("id", *SHAREPOINT_BACKED))
    assert me.fields == {"id", *SHAREPOINT_BACKED}
    assert me.skills == () and me.about_me is None
    assert me.birthday is None  # unset, whatever sentinel the service uses


def test_the_manager_comes_with_name_sign_in_name_and_mail(tenant, make_clients):
    boss = add_user(tenant, directory={"displayName": "Megan Bowen"})
    user = add_user(tenant)
    user.manager_oid = boss.oid
    manager = make_clients(user).graph.manager()
    assert manager == Manager("Megan Bowen", boss.upn, boss.upn)
    [logged] = tenant.requests_to("graph")
    assert (logged.path, logged.query) == (
        "/v1.0/me/manager",
        "$select=displayName,userPrincipalName,mail",
    )


def test_no_manager_is_none(tenant, make_clients):
    assert make_clients().graph.manager() is None


def test_a_manager_the_token_may_not_read_is_a_forbidden_error(tenant, make_clients):
    boss = add_user(tenant)
    user = add_user(tenant)
    user.manager_oid = boss.oid
    clients = make_clients(user)
    clients.tokens.graph_scopes = ["User.Read", "User.ReadWrite"]
    with pytest.raises(ForbiddenError) as refused:
        clients.graph.manager()
    assert (refused.value.status, refused.value.code) == (403, "Authorization_RequestDenied")


def test_profile_edits_follow_the_own_request_rule(tenant, make_clients):
    graph = make_clients().graph
    graph.update_me({"aboutMe": "Payroll systems, Python.", "skills": ["Python", "SQL"]})
    graph.update_me({"birthday": "1990-05-17T00:00:00Z"})
    graph.update_me({"mobilePhone": "+44 7700 900123"})
    me = graph.me(select=("mobilePhone", *SHAREPOINT_BACKED))
    assert me.about_me == "Payroll systems, Python."
    assert me.skills == ("Python", "SQL")
    assert me.birthday == datetime(1990, 5, 17, tzinfo=UTC)
    assert me.mobile_phone == "+44 7700 900123"
    with pytest.raises(BadRequestError) as mixed:
        graph.update_me({"aboutMe": "x", "mobilePhone": "+1"})
    assert mixed.value.code == "BadRequest"
    with pytest.raises(ForbiddenError) as refused:
        graph.update_me({"jobTitle": "CEO"})
    assert refused.value.code == "Authorization_RequestDenied"
    assert refused.value.request_id  # from innerError, for the helpdesk


# -- Graph: photo ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "ImageNotFound",
        "ErrorEntityNotFound",
        "ErrorItemNotFound",
        "ConsumerPhotoIsNotSupported",
        "ErrorNonExistentMailbox",
        "MailboxNotHostedInExchangeOnline",
        "SomethingNewFromMicrosoft",
    ],
)
def test_every_404_from_graph_photo_means_no_photo(tenant, make_clients, code):
    user = add_user(tenant)
    user.photo_not_found_code = code
    graph = make_clients(user).graph
    assert graph.photo() is None
    assert graph.photo("240x240") is None
    assert graph.photo_meta() is None  # the 1x1 image/gif metadata
    assert graph.photo_sizes() == []
    statuses = [(r.path, r.status) for r in tenant.requests_to("graph")]
    assert ("/v1.0/me/photo/$value", 404) in statuses


def test_uploaded_photo_is_served_in_the_offered_sizes(tenant, make_clients):
    graph = make_clients().graph
    graph.put_photo(jpeg((300, 300)))
    meta = graph.photo_meta()
    assert meta is not None
    assert (meta.id, meta.width, meta.height, meta.content_type) == (
        "240x240",
        240,
        240,
        "image/jpeg",
    )
    assert meta.etag and meta.etag.startswith('"')
    sizes = graph.photo_sizes()
    assert [m.id for m in sizes] == ["48x48", "64x64", "96x96", "120x120", "240x240"]
    photo = graph.photo()
    assert photo is not None and photo.content_type == "image/jpeg"
    assert photo.etag == meta.etag
    assert image_size(photo.data) == (240, 240)
    small = graph.photo("48x48")
    assert small is not None and image_size(small.data) == (48, 48)
    assert graph.photo("648x648") is None  # larger than the original: not offered


def test_a_user_without_mailbox_gets_the_entra_copy(tenant, make_clients):
    graph = make_clients(add_user(tenant, has_mailbox=False)).graph
    graph.put_photo(jpeg((500, 400)))
    meta = graph.photo_meta()
    assert meta is not None and (meta.width, meta.height) == (500, 400)
    assert [m.id for m in graph.photo_sizes()] == ["500x400"]


def test_delete_removes_the_photo_and_is_idempotent(tenant, make_clients):
    graph = make_clients().graph
    graph.put_photo(jpeg())
    graph.delete_photo()
    assert graph.photo() is None
    graph.delete_photo()  # already gone: still success
    methods = [(r.method, r.status) for r in tenant.requests_to("graph")]
    assert ("DELETE", 200) in methods and ("DELETE", 404) in methods


def padded_jpeg(length: int) -> bytes:
    data = jpeg((64, 64))
    return data + b"\0" * (length - len(data))  # bytes after the end marker: still a JPEG


def test_graph_takes_a_photo_of_exactly_4_000_000_bytes_from_the_client(tenant, make_clients):
    # Microsoft's 4 MB is decimal (reference §9.1), so the client's limit must match Graph's.
    clients = make_clients()
    clients.graph.put_photo(padded_jpeg(4_000_000))
    assert [r.status for r in tenant.requests_to("graph")] == [200]


def test_the_client_refuses_one_byte_more_without_calling_graph(tenant, make_clients):
    clients = make_clients()
    with pytest.raises(ValueError):
        clients.graph.put_photo(padded_jpeg(4_000_001))
    assert tenant.requests_to("graph") == []


def test_a_new_photo_replaces_the_old_and_changes_the_etag(tenant, make_clients):
    graph = make_clients().graph
    graph.put_photo(jpeg(colour=(200, 30, 30)))
    first = graph.photo_meta()
    graph.put_photo(jpeg(colour=(30, 30, 200)))
    second = graph.photo_meta()
    assert first and second and first.etag != second.etag
    photo = graph.photo()
    assert photo is not None
    red, green, blue = mean_colour(photo.data)
    assert blue > 150 > red


# -- SharePoint -----------------------------------------------------------------------------------


def test_sharepoint_profile_is_parsed(tenant, make_clients):
    clients = make_clients()
    profile = clients.sharepoint.my_properties()
    assert profile.account_name == f"i:0#.f|membership|{clients.user.upn.lower()}"
    assert profile.properties["msOnline-ObjectId"] == clients.user.oid
    assert profile.exchange_sync_state == "1"
    assert normalise_origin(profile.personal_site_host_url) == tenant.origins.mysite
    # Never had a photo: placeholder, no PictureURL, no pictures.
    assert profile.placeholder
    assert profile.picture_url is None and profile.picture_timestamp is None
    assert clients.sharepoint.picture("M", profile) is None
    [logged] = tenant.requests_to("sharepoint")
    assert logged.headers["Accept"] == "application/json;odata=nometadata"


@pytest.mark.parametrize(
    "accept",
    [
        "application/json;odata=verbose",
        "application/json;odata=minimalmetadata",
        "application/json",
    ],
)
def test_every_json_flavour_parses_to_the_same_profile(tenant, make_clients, http_session, accept):
    clients = make_clients()
    clients.graph.put_photo(jpeg())
    ours = clients.sharepoint.my_properties()
    url = f"{tenant.origins.sharepoint}/_api/SP.UserProfiles.PeopleManager/GetMyProperties"
    token = clients.tokens.sharepoint(tenant.origins.sharepoint)
    raw = http_session.get(url, headers={"Accept": accept, "Authorization": f"Bearer {token}"})
    assert raw.status_code == 200
    assert SharePointProfile.from_sharepoint(raw.json()) == ours


@pytest.fixture
def classic(tenant, monkeypatch):
    """The tenant on the classic photo model (reference §5.2): a tenant that still syncs the
    Exchange photo into SharePoint's library and takes pushes."""
    monkeypatch.setattr(tenant, "photo_model", "classic")
    return tenant


def put_and_fetch(clients, colour=(30, 160, 30)) -> None:
    clients.graph.put_photo(jpeg((300, 300), colour=colour))


def test_served_picture_follows_the_redirect_to_the_front_door_cache(tenant, make_clients):
    clients = make_clients()
    put_and_fetch(clients)
    sizes = {}
    for size in ("S", "M", "L"):
        picture = clients.sharepoint.served_picture(size, clients.user.upn)
        assert picture.content_type == "image/jpeg"
        sizes[size] = image_size(picture.data)
        red, green, blue = mean_colour(picture.data)
        assert green > 120 > red
    assert sizes == {"S": (48, 48), "M": (72, 72), "L": (240, 240)}
    logged = tenant.requests_to("sharepoint")
    assert [(r.path, r.status) for r in logged[:2]] == [
        ("/_layouts/15/userphoto.aspx", 302),
        ("/_vti_bin/afdcache.ashx/_userprofile/userphoto.jpg", 200),
    ]
    assert f"accountname={clients.user.upn}".replace("@", "%40") in logged[0].query
    sharepoint_tokens = [r for r in clients.tokens.issued if r != "https://graph.microsoft.com"]
    assert set(sharepoint_tokens) == {tenant.origins.sharepoint}  # the same origin throughout
    # The legacy library is never written on the current model (reference §9.1).
    assert clients.user.sharepoint.pictures is None


def test_served_picture_says_how_long_the_cache_keeps_its_copy(tenant, make_clients):
    clients = make_clients()
    put_and_fetch(clients)
    first = clients.sharepoint.served_picture("L", clients.user.upn)
    assert first.fresh_for is not None and 0 < first.fresh_for <= tenant.photo_cache_lifetime
    put_and_fetch(clients, colour=(30, 30, 200))
    cached = clients.sharepoint.served_picture("L", clients.user.upn)
    assert mean_colour(cached.data)[1] > 120  # still the green one
    tenant.clock.advance(tenant.photo_cache_lifetime)
    fresh = clients.sharepoint.served_picture("L", clients.user.upn)
    red, green, blue = mean_colour(fresh.data)
    assert blue > 150 > green


def test_the_placeholder_is_what_an_unknown_account_is_served(tenant, make_clients):
    clients = make_clients()
    placeholder = clients.sharepoint.placeholder_picture("L")
    without_photo = clients.sharepoint.served_picture("L", clients.user.upn)
    assert placeholder.data == without_photo.data
    assert "placeholder.invalid" in tenant.requests_to("sharepoint")[0].query


def test_on_classic_the_own_picture_request_makes_sharepoint_pull_the_graph_photo(
    classic, make_clients
):
    clients = make_clients()
    put_and_fetch(clients)
    assert clients.user.sharepoint.pictures is None
    served = clients.sharepoint.served_picture("M", clients.user.upn)
    # The pull happened on that request (reference §5.2 step 1), answered with the image itself.
    assert clients.user.sharepoint.pictures is not None
    assert image_size(served.data) == (72, 72)
    [logged] = classic.requests_to("sharepoint")
    assert (logged.path, logged.status) == ("/_layouts/15/userphoto.aspx", 200)
    before = datetime.now(UTC) - timedelta(minutes=1)
    profile = clients.sharepoint.my_properties()
    assert not profile.placeholder
    assert profile.picture_timestamp is not None and profile.picture_timestamp >= before
    assert profile.picture_url and "_MThumb" in profile.picture_url


def test_on_classic_the_library_holds_three_sizes(classic, make_clients):
    clients = make_clients()
    put_and_fetch(clients)
    clients.sharepoint.served_picture("M", clients.user.upn)  # SharePoint pulls it (§5.2)
    profile = clients.sharepoint.my_properties()
    sizes = {}
    for size in ("S", "M", "L"):
        picture = clients.sharepoint.picture(size, profile)
        assert picture is not None and picture.content_type == "image/jpeg"
        sizes[size] = image_size(picture.data)
        red, green, blue = mean_colour(picture.data)
        assert green > 120 > red
    assert sizes == {"S": (48, 48), "M": (72, 72), "L": (240, 240)}
    paths = [r.path for r in classic.requests_to("sharepoint")][2:]
    assert [p.rsplit("_", 1)[-1] for p in paths] == ["SThumb.jpg", "MThumb.jpg", "LThumb.jpg"]


def test_a_picture_missing_from_the_library_is_none(classic, make_clients):
    clients = make_clients()
    put_and_fetch(clients)
    clients.sharepoint.served_picture("M", clients.user.upn)
    profile = clients.sharepoint.my_properties()
    clients.user.sharepoint.pictures = None  # the library lost the files since
    assert clients.sharepoint.picture("M", profile) is None
    last = classic.requests_to("sharepoint")[-1]
    assert last.status == 404
    assert "application/json;odata=nometadata" in last.headers["Accept"]


def test_on_classic_set_my_profile_picture_shows_at_once(classic, make_clients):
    clients = make_clients(add_user(classic, has_mailbox=False))
    clients.sharepoint.set_my_profile_picture(jpeg((400, 400), colour=(30, 30, 200)))
    [logged] = classic.requests_to("sharepoint")
    assert (logged.method, logged.status) == ("POST", 200)
    assert logged.headers["Content-Type"] == "application/octet-stream"
    profile = clients.sharepoint.my_properties()
    assert not profile.placeholder
    large = clients.sharepoint.picture("L", profile)
    assert large is not None and image_size(large.data) == (240, 240)
    red, green, blue = mean_colour(large.data)
    assert blue > 150 > red
    served = clients.sharepoint.served_picture("L", clients.user.upn)
    assert mean_colour(served.data)[2] > 150


def test_on_current_set_my_profile_picture_is_a_typed_refusal(tenant, make_clients):
    clients = make_clients()
    with pytest.raises(ForbiddenError) as refused:
        clients.sharepoint.set_my_profile_picture(jpeg())
    assert refused.value.service == "sharepoint"
    assert refused.value.status == 403
    assert "UnauthorizedAccessException" in (refused.value.code or "")


def test_refused_local_upload_on_classic_is_a_typed_error(classic, make_clients):
    clients = make_clients()
    classic.local_uploads_disabled = True
    try:
        with pytest.raises(ForbiddenError) as refused:
            clients.sharepoint.set_my_profile_picture(jpeg())
    finally:
        classic.local_uploads_disabled = False
    assert refused.value.service == "sharepoint"
    assert "UnauthorizedAccessException" in (refused.value.code or "")


def test_pictures_use_a_token_for_the_host_called(classic, make_clients):
    clients = make_clients()
    put_and_fetch(clients)
    clients.sharepoint.served_picture("S", clients.user.upn)
    profile = clients.sharepoint.my_properties()
    clients.sharepoint.picture("S", profile)
    sharepoint_tokens = [r for r in clients.tokens.issued if r != "https://graph.microsoft.com"]
    assert sharepoint_tokens == [classic.origins.sharepoint] * 2 + [classic.origins.mysite]


# -- tokens ---------------------------------------------------------------------------------------


def test_an_expired_token_is_refreshed_once_silently(tenant, make_clients):
    clients = make_clients()
    stale = clients.tokens.graph()
    tenant.clock.advance(4000)  # past the access token lifetime

    def provider(force_refresh: bool = False) -> str:
        return clients.tokens.graph() if force_refresh else stale

    clients.graph._token_provider = provider
    assert clients.graph.me().id == clients.user.oid
    assert [r.status for r in tenant.requests_to("graph")] == [401, 200]


def test_a_token_that_stays_refused_requires_sign_in(tenant, make_clients):
    clients = make_clients()
    tenant.clock.advance(4000)
    stale = clients.tokens.graph()
    tenant.clock.advance(4000)
    clients.graph._token_provider = lambda: stale
    with pytest.raises(AuthRequiredError) as refused:
        clients.graph.me()
    assert refused.value.code == "InvalidAuthenticationToken"
    assert len(tenant.requests_to("graph")) == 1


# -- throttling and faults (security.md C1–C6) ----------------------------------------------------


def test_retry_after_is_honoured_within_the_budget(tenant, make_clients, clock):
    clients = make_clients()
    tenant.faults.fail_next("graph", 3, 429, retry_after=1, path_contains="/photo")
    clients.graph.put_photo(jpeg())
    puts = [r for r in tenant.requests_to("graph") if r.method == "PUT"]
    assert [r.status for r in puts] == [429, 429, 429, 200]
    assert clock.slept == [1.0, 1.0, 1.0]


def test_a_long_retry_after_raises_throttled_at_once(tenant, make_clients, clock):
    clients = make_clients()
    tenant.faults.fail_next("graph", 1, 429, retry_after=120)
    with pytest.raises(ThrottledError) as throttled:
        clients.graph.me()
    assert clock.slept == []
    assert throttled.value.retry_after == 120
    assert throttled.value.code == "TooManyRequests"
    assert len(tenant.requests_to("graph")) == 1


def test_sharepoint_throttling_is_honoured_for_the_picture_post(classic, make_clients, clock):
    clients = make_clients(add_user(classic, has_mailbox=False))
    classic.faults.fail_next("sharepoint", 1, 503, retry_after=1)
    clients.sharepoint.set_my_profile_picture(jpeg())
    posts = [(r.method, r.status) for r in classic.requests_to("sharepoint")]
    assert posts == [("POST", 503), ("POST", 200)]
    assert clock.slept == [1.0]


def test_a_throttle_seen_once_holds_back_that_users_next_call(tenant, make_clients, clock):
    gate = LocalThrottleGate(clock)
    throttled, other = make_clients(gate=gate), make_clients(gate=gate)
    tenant.faults.fail_next("sharepoint", 1, 429, retry_after=60, user_oid=throttled.user.oid)
    with pytest.raises(ThrottledError):
        throttled.sharepoint.my_properties()
    with pytest.raises(ThrottledError) as held:
        throttled.sharepoint.my_properties()
    assert held.value.retry_after == 60
    assert len(tenant.requests_to("sharepoint")) == 1  # the second call never reached SharePoint
    assert throttled.graph.me().id == throttled.user.oid  # Graph is not held back
    # Another user's calls are not held back by this user's throttle (issue 16 item 5).
    assert other.sharepoint.my_properties().account_name
    assert clock.slept == []


def test_persistent_503_is_service_unavailable_after_three_retries(tenant, make_clients, clock):
    clients = make_clients()
    tenant.faults.fail_always("sharepoint", 503)
    with pytest.raises(ServiceUnavailableError) as unavailable:
        clients.sharepoint.my_properties()
    assert unavailable.value.status == 503 and unavailable.value.service == "sharepoint"
    assert len(tenant.requests_to("sharepoint")) == 4
    assert len(clock.slept) == 3  # backed off between the tries


def test_graph_503_then_success_is_invisible(tenant, make_clients):
    clients = make_clients()
    tenant.faults.fail_next("graph", 2, 503)
    assert clients.graph.me().id == clients.user.oid
    assert [r.status for r in tenant.requests_to("graph")] == [503, 503, 200]


def test_a_hung_service_fails_within_the_timeout(tenant, make_clients):
    clients = make_clients(timeout=(2.0, 0.5), retry=RetryPolicy(budget=10.0))
    tenant.faults.hang("graph", 3.0)
    with pytest.raises(UpstreamTimeoutError) as timed_out:
        clients.graph.photo()
    assert "read timeout=0.5" in str(timed_out.value.__cause__)  # ours, not the 3 s hang
    assert timed_out.value.service == "graph"
    assert len(tenant.requests_to("graph")) == 1


def test_every_call_is_decorated_and_correlated(tenant, make_clients):
    clients = make_clients()
    clients.graph.me()
    clients.graph.put_photo(jpeg())
    clients.graph.photo()
    clients.sharepoint.served_picture("L", clients.user.upn)
    clients.sharepoint.my_properties()
    logged = tenant.requests_to("graph") + tenant.requests_to("sharepoint")
    assert len(logged) == 6  # the redirect and its target are two calls, each its own id
    ids = [r.headers.get("client-request-id") for r in logged]
    assert all(r.headers.get("User-Agent") == USER_AGENT for r in logged)
    assert USER_AGENT.startswith("NONISV|Contoso|ProfileFix/")
    assert all(i and uuid.UUID(i) for i in ids)
    assert len(set(ids)) == len(ids)
