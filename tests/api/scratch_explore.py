import json

R = "/v1/admin/rulesets"


def show(r):
    print(r.status_code, dict(r.headers).get("ETag"), json.dumps(r.get_json(), indent=1)[:3000])


def test_explore(client, tenant_a):
    h = tenant_a.admin
    show(client.get(f"{R}/active", headers=h))
    show(client.get(f"{R}/versions", headers=h))
    r = client.post(f"{R}/drafts", headers=h, json={"name": "copy"})
    show(r)
    d = r.get_json()["id"]
    show(
        client.post(
            f"{R}/evaluate",
            headers=h,
            json={"facts": {"service_date": "2027-07-10", "lead_days": 2}},
        )
    )
    show(
        client.post(
            f"{R}/drafts/{d}/simulate",
            headers=h,
            json={"facts": [{"service_date": "2027-07-10", "lead_days": 2}]},
        )
    )
