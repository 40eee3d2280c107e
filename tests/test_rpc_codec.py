"""The generated RPC codec carries the monolith's own classes between services (issue 10).

A FastAPI monolith passes pydantic models, dataclasses, enums, datetimes,
UUIDs and Decimals between its layers; split into services, each of those
values must arrive as an instance of the same class.  And the receiving side
must build only classes of the monolith's own modules (the allow-list written
into ``decompose_rt/rpc.py`` at generate time), never any importable name.

1. Round-trips through the real generated ``decompose_rt.rpc`` of a service
   (run in its own interpreter with the service's source tree on the path):
   nested pydantic v2 and v1 models (a subclass in a field keeps its class),
   aliases, extra fields, which fields were set, dataclasses (frozen,
   ``init=False``), named tuples, timedeltas, paths, enums,
   and the refusals (another module's class, a live resource, a class that is
   not importable here), without importing a module it was not allowed to.
2. Two services under ``up --local``: orders gets a pydantic model from
   catalog over RPC, and sends one back as an argument.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from decompose.generation.output import generation_for, render_outputs, write_outputs
from decompose.planning.plan import Plan
from decompose.planning.planfile import save_plan
from decompose.runtime.docker_build import load_manifest
from decompose.runtime.runner import down_local, free_port, run_dir, up_local

from tests.generate_support import signature

PSHOP = {
    "pshop/__init__.py": "",
    "pshop/models.py": '''\
import dataclasses
import datetime
import decimal
import enum
import pathlib
import typing
import uuid

from fastapi.openapi.models import Contact, Reference
from pydantic import BaseModel, ConfigDict, Field
from pydantic import v1 as pydantic_v1


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Size(enum.IntEnum):
    S = 1
    L = 3


class Price(BaseModel):
    amount: decimal.Decimal
    currency: str = "EUR"


class Discounted(Price):
    was: decimal.Decimal


class Product(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: uuid.UUID
    name: str = Field(alias="productName")
    colour: Colour
    price: Price
    tags: set[str] = set()
    added: datetime.datetime
    sizes: dict[Size, int] = {}
    note: str | None = None


@dataclasses.dataclass(frozen=True)
class Stock:
    product: Product
    counted: datetime.date
    shelves: tuple[str, ...] = ()
    checked: bool = dataclasses.field(default=False, init=False)


class Slot(typing.NamedTuple):
    start: datetime.time
    length: datetime.timedelta
    where: pathlib.PurePosixPath


class LegacyTag(pydantic_v1.BaseModel):  # a pydantic v1 model (pydantic.v1 of pydantic 2)
    label: str = pydantic_v1.Field(alias="Label")
    since: datetime.date


class Legacy(pydantic_v1.BaseModel):
    tags: list[LegacyTag]
    colour: Colour
    weight: decimal.Decimal = decimal.Decimal("1")


class Documented(BaseModel):  # a library's models in its fields (fastapi's OpenAPI models, $ref by alias)
    ref: Reference
    more: list[Reference] = []
    contact: Contact | None = None


class Asset(BaseModel):  # a file kept in a column (LNbits' uploaded assets)
    name: str
    data: bytes


T = typing.TypeVar("T")


class Page(BaseModel, typing.Generic[T]):  # a parametrized generic model (LNbits' Page[AssetInfo], Filters[...])
    data: list[T]
    total: int
    model: type[T] | None = None  # a class as a field's value (LNbits' Filters.model)


class OutOfStock(Exception):
    def __init__(self, product: Product):
        super().__init__(f"{product.name} is out of stock")
        self.product = product
''',
    "pshop/app.py": '''\
from fastapi import FastAPI

from pshop.catalog.api import router as catalog_router
from pshop.orders.api import router as orders_router

app = FastAPI(title="pshop")
app.include_router(catalog_router)
app.include_router(orders_router)
''',
    "pshop/catalog/__init__.py": "",
    "pshop/catalog/service.py": '''\
import datetime
import decimal
import uuid

from pshop.models import Colour, Discounted, OutOfStock, Product, Size, Stock

PEN = uuid.UUID("12345678-1234-5678-1234-567812345678")


def get_product(product_id: uuid.UUID) -> Product:
    if product_id != PEN:
        raise LookupError(product_id)
    return Product(id=PEN, productName="pen", colour=Colour.BLUE,
                   price=Discounted(amount=decimal.Decimal("1.50"), was=decimal.Decimal("2.00")),
                   tags={"office"}, added=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
                   sizes={Size.L: 4}, shelf="A3")


def stock_of(product: Product) -> Stock:
    if not isinstance(product, Product):
        raise TypeError(f"expected a Product, got {type(product).__name__}")
    if product.colour is Colour.RED:
        raise OutOfStock(product)
    return Stock(product=product, counted=datetime.date(2026, 2, 1), shelves=("A3", "B1"))
''',
    "pshop/catalog/api.py": '''\
from fastapi import APIRouter

from pshop.catalog.service import PEN, get_product

router = APIRouter(prefix="/catalog")


@router.get("/pen")
def pen() -> dict:
    return get_product(PEN).model_dump(mode="json", by_alias=True)
''',
    "pshop/orders/__init__.py": "",
    "pshop/orders/api.py": '''\
import uuid

from fastapi import APIRouter

from pshop.catalog import service as catalog
from pshop.models import Colour, Discounted, OutOfStock, Price, Product, Size, Stock

router = APIRouter(prefix="/orders")


@router.get("/{product_id}")
def order(product_id: uuid.UUID, colour: str = "blue") -> dict:
    product = catalog.get_product(product_id)
    described = {
        "product": type(product).__qualname__, "price": type(product.price).__qualname__,
        "colour": product.colour is Colour.BLUE, "size": list(product.sizes) == [Size.L] and
        type(list(product.sizes)[0]) is Size, "was": str(product.price.was), "shelf": product.model_extra,
        "set": sorted(product.model_fields_set), "json": product.model_dump(mode="json", by_alias=True),
    }
    try:
        stock = catalog.stock_of(product.model_copy(update={"colour": Colour(colour)}))
    except OutOfStock as exc:
        described["out_of_stock"] = [str(exc), type(exc.product).__qualname__]
        return described
    described["stock"] = [type(stock).__qualname__, type(stock.product).__qualname__, stock.shelves,
                          stock.counted.isoformat(), stock.checked]
    return described
''',
    "pyproject.toml": ('[project]\nname = "pshop"\nversion = "0.1.0"\n'
                       'dependencies = ["fastapi==0.165.0", "uvicorn==0.54.0", "pydantic==2.13.4"]\n'),
}
SERVICES = {
    "catalog": {"modules": ["pshop.catalog", "pshop.catalog.service", "pshop.catalog.api"]},
    "orders": {"modules": ["pshop.orders", "pshop.orders.api"]},
}
PEN = "12345678-1234-5678-1234-567812345678"


@pytest.fixture(scope="module")
def pshop(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("pshop")
    for rel, text in PSHOP.items():
        path = base / "mono" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    plan = Plan.from_dict({"project": "codecpshop", "source": str(base / "mono"), "services": SERVICES,
                           "shared": {"modules": ["pshop", "pshop.app", "pshop.models"]}})
    save_plan(plan, base / "decompose.yaml")
    gen, root, facts, sources = generation_for(base / "decompose.yaml", use_cache=False)
    out = base / "out"
    write_outputs(out, render_outputs(gen, facts, sources, root=root).files)
    return out


def run_in_service(out: Path, service: str, code: str) -> dict:
    """Run ``code`` in a fresh interpreter inside the service's source tree; it prints one JSON line."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                          cwd=out / "services" / service / "app")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- 1. the codec


def test_the_allow_list_is_the_modules_the_plan_places(pshop):
    for service in SERVICES:
        text = (pshop / "services" / service / "app" / "decompose_rt" / "rpc.py").read_text()
        start = text.index("OWN_MODULES = frozenset({")
        listed = text[start:text.index("})", start)].splitlines()[1:]
        assert [line.strip().strip(",'") for line in listed] == [
            "pshop", "pshop.app", "pshop.catalog", "pshop.catalog.api", "pshop.catalog.service", "pshop.models",
            "pshop.orders", "pshop.orders.api"]


ROUND_TRIP = '''
import datetime, decimal, enum, json, sys, uuid
from decompose_rt import rpc
from pshop.models import (Asset, Colour, Discounted, Legacy, LegacyTag, OutOfStock, Page, Price, Product, Size,
                          Slot, Stock)
import pathlib

def wire(value):  # what crosses: JSON text
    return rpc.decode(json.loads(json.dumps(rpc.encode(value))))

added = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
p = Product(id=uuid.UUID(int=7), productName="pen", colour=Colour.RED,
            price=Discounted(amount=decimal.Decimal("1.50"), was=decimal.Decimal("2")),
            tags={"a", "b"}, added=added, sizes={Size.S: 2}, shelf="A3")
back = wire(p)
stock = wire(Stock(product=p, counted=datetime.date(2026, 2, 1), shelves=("x",)))
nested = wire({"items": [p, (Colour.BLUE, Size.L)], 3: uuid.UUID(int=1)})
err = wire(OutOfStock(p))
slot = Slot(datetime.time(9, 30), datetime.timedelta(days=1, seconds=5, microseconds=7),
            pathlib.PurePosixPath("/srv/a"))
slot_back = wire(slot)
legacy = Legacy(tags=[LegacyTag(Label="x", since=datetime.date(2020, 1, 1))], colour=Colour.BLUE)
legacy_back = wire(legacy)
blob = wire(Asset(name="logo.png", data=b"\\x89PNG\\x00\\xff"))
import io
from fastapi import UploadFile
from starlette.datastructures import Headers
from werkzeug.datastructures import FileStorage
up = UploadFile(file=io.BytesIO(b"GIF89a..."), size=9, filename="a.gif",
                headers=Headers({"content-type": "image/gif"}))
up.file.seek(3)
up_back = wire(up)
page = wire(Page[Asset](data=[Asset(name="a", data=b"1")], total=1, model=Asset))
classes = [wire(c) for c in (Asset, int, Page[Asset], decimal.Decimal)]
pages = wire(Page[Page[int]](data=[Page[int](data=[2], total=1)], total=1))
fs_back = wire(FileStorage(stream=io.BytesIO(b"hello"), filename="n.txt", name="doc", content_type="text/plain"))
print(json.dumps({
    "equal": back == p, "cls": type(back).__qualname__, "price": type(back.price).__qualname__,
    "price_equal": back.price == p.price, "was": repr(back.price.was), "id": repr(back.id),
    "colour": back.colour is Colour.RED, "sizes": [type(k).__qualname__ for k in back.sizes],
    "added": back.added == added and back.added.tzinfo is not None, "tags": sorted(back.tags),
    "extra": back.model_extra, "set": sorted(back.model_fields_set), "unset_note": "note" in back.model_fields_set,
    "stock": [type(stock).__qualname__, stock.product == p, type(stock.product.price).__qualname__,
              stock.shelves, stock.checked],
    "nested": [type(nested["items"][0]).__qualname__, nested["items"][1] == (Colour.BLUE, Size.L),
               nested[3] == uuid.UUID(int=1)],
    "error": [type(err).__qualname__, str(err), err.product == p],
    "slot": [type(slot_back).__qualname__, slot_back == slot, type(slot_back.where).__name__],
    "path": type(wire(pathlib.Path("x"))).__name__ == type(pathlib.Path("x")).__name__,
    "v1": [type(legacy_back).__qualname__, legacy_back == legacy, type(legacy_back.tags[0]).__qualname__,
           legacy_back.colour is Colour.BLUE, sorted(legacy_back.__fields_set__), repr(legacy_back.weight)],
    "bytes": [type(blob).__qualname__, repr(blob.data), repr(wire(b"\\x00\\x01")), repr(wire(bytearray(b"ab"))),
              repr(wire(memoryview(b"mv"))), repr(wire({"raw": [b""]}))],
    "uploads": [type(up_back).__module__, type(up_back).__qualname__, up_back.filename, up_back.content_type,
                up_back.size, up_back.file.tell(), up_back.file.read().decode(), up.file.tell(),
                type(fs_back).__qualname__, fs_back.filename, fs_back.name, fs_back.content_type,
                fs_back.stream.read().decode()],
    "generic": [type(page).__qualname__, type(page.data[0]).__qualname__, page.data[0].data.decode(),
                type(pages).__qualname__, type(pages.data[0]).__qualname__, pages.data[0].data,
                page.model is Asset, [c.__qualname__ for c in classes], classes[2] is Page[Asset]],
}))
'''


def test_nested_models_dataclasses_and_enums_round_trip_as_their_classes(pshop):
    got = run_in_service(pshop, "orders", ROUND_TRIP)
    assert got == {
        "equal": True, "cls": "Product", "price": "Discounted", "price_equal": True, "was": "Decimal('2')",
        "id": "UUID('00000000-0000-0000-0000-000000000007')", "colour": True, "sizes": ["Size"], "added": True,
        "tags": ["a", "b"], "extra": {"shelf": "A3"}, "set": ["added", "colour", "id", "name", "price", "shelf",
                                                              "sizes", "tags"],
        "unset_note": False, "stock": ["Stock", True, "Discounted", ["x"], False],
        "nested": ["Product", True, True], "error": ["OutOfStock", "pen is out of stock", True],
        "slot": ["Slot", True, "PurePosixPath"], "path": True,
        "v1": ["Legacy", True, "LegacyTag", True, ["colour", "tags"], "Decimal('1')"],
        "bytes": ["Asset", "b'\\x89PNG\\x00\\xff'", "b'\\x00\\x01'", "bytearray(b'ab')", "b'mv'", "{'raw': [b'']}"],
        "uploads": ["fastapi.datastructures", "UploadFile", "a.gif", "image/gif", 9, 3, "89a...", 3,
                    "FileStorage", "n.txt", "doc", "text/plain", "hello"],
        "generic": ["Page[Asset]", "Asset", "1", "Page[Page[int]]", "Page[int]", [2], True,
                    ["Asset", "int", "Page[Asset]", "Decimal"], True],
    }


REFUSALS = '''
import dataclasses, io, json, sqlite3, sys
import pydantic
from decompose_rt import rpc

def refused(fn, *args):
    try:
        fn(*args)
    except (rpc.EncodeError, rpc.DecodeError) as exc:
        return [type(exc).__name__, str(exc)]
    return None

class Local(pydantic.BaseModel):  # a class of no module of the monolith (__main__)
    x: int = 1

@dataclasses.dataclass
class Held:
    conn: object

Holder = type("Holder", (pydantic.BaseModel,), {"__annotations__": {"f": object},
              "model_config": pydantic.ConfigDict(arbitrary_types_allowed=True), "__module__": "pshop.models"})
out = {
    "other_module": refused(rpc.encode, Local()),
    "live_field": refused(rpc.encode, Holder(f=sqlite3.connect(":memory:"))),
    "file": refused(rpc.encode, io.StringIO()),
    "not_own_dataclass": refused(rpc.decode, {"__t__": "dataclass", "cls": "subprocess:CompletedProcess",
                                              "v": {"args": ["id"], "returncode": 0}}),
    "library_model": refused(rpc.decode, {"__t__": "pydantic", "cls": "pydantic:BaseModel", "v": {}}),
    "unimported_enum": refused(rpc.decode, {"__t__": "enum", "cls": "antigravity:Fly", "v": 1}),
    "unimported_error": type(rpc.decode({"__t__": "exception", "cls": "antigravity:Boom", "args": [],
                                         "message": "x"})).__name__,
    "missing_here": refused(rpc.decode, {"__t__": "pydantic", "cls": "pshop.models:Gone", "v": {}}),
    "not_a_model": refused(rpc.decode, {"__t__": "pydantic", "cls": "pshop.models:Colour", "v": {}}),
    "dunder": refused(rpc.decode, {"__t__": "dataclass", "cls": "pshop.models:Stock.__class__", "v": {}}),
    "imported": sorted(m for m in ("antigravity", "subprocess") if m in sys.modules and m != "subprocess"),
    "builtin_error": type(rpc.decode(rpc.encode(KeyError("k")))).__name__,
    "class_of_main": refused(rpc.encode, Local),
    "unimported_class": refused(rpc.decode, {"__t__": "class", "cls": "antigravity:Fly"}),
}
print(json.dumps(out))
'''


def test_only_the_monolith_s_own_classes_cross_and_refusals_name_the_type(pshop):
    got = run_in_service(pshop, "catalog", REFUSALS)
    assert got["other_module"][0] == "EncodeError" and "__main__.Local" in got["other_module"][1]
    assert got["live_field"][0] == "EncodeError" and "sqlite3.Connection" in got["live_field"][1] \
        and "field 'f' of pshop.models.Holder" in got["live_field"][1]
    assert got["file"][0] == "EncodeError" and "_io.StringIO" in got["file"][1]
    for key, name in (("not_own_dataclass", "subprocess:CompletedProcess"), ("library_model", "pydantic:BaseModel")):
        assert got[key] == ["DecodeError", f"refused a {'dataclass' if key == 'not_own_dataclass' else 'pydantic model'}"
                            f" of class {name}: only classes of the monolith's own modules are built from what "
                            "another service sends"]
    assert got["unimported_enum"][0] == "DecodeError" and "antigravity:Fly" in got["unimported_enum"][1]
    assert got["unimported_error"] == "RemoteError"
    assert got["imported"] == []  # the refused names were never imported
    assert got["missing_here"][0] == "DecodeError" and "pshop.models:Gone" in got["missing_here"][1] \
        and "not importable in this service" in got["missing_here"][1]
    assert got["not_a_model"][0] == "DecodeError"
    assert got["dunder"][0] == "DecodeError"
    assert got["builtin_error"] == "KeyError"
    assert got["class_of_main"][0] == "EncodeError" and "the class __main__.Local" in got["class_of_main"][1]
    assert got["unimported_class"][0] == "DecodeError" and "antigravity:Fly" in got["unimported_class"][1]


LIBRARY_MODELS = '''
import json, sys
from decompose_rt import rpc
from fastapi.openapi.models import Contact, Reference
from pshop.models import Documented

def wire(value):
    return rpc.decode(json.loads(json.dumps(rpc.encode(value))))

doc = Documented(ref=Reference(**{"$ref": "#/a"}), more=[Reference(**{"$ref": "#/b"})],
                 contact=Contact(name="ops", email="ops@example.org"))
sent = rpc.encode(doc)
back = wire(doc)
alone = wire(Reference(**{"$ref": "#/c"}))
# a library this process has not loaded: inside a field of the monolith's model its data is
# validated by the field's annotation; on its own it is refused
unloaded = {"__t__": "pydantic-data", "cls": "someones_lib.models:Ref", "v": {"$ref": "#/d"}, "api": "v2"}
payload = json.loads(json.dumps(sent))
payload["v"]["ref"] = unloaded
via_field = rpc.decode(payload)
try:
    rpc.decode(unloaded)
    refused = None
except rpc.DecodeError as exc:
    refused = str(exc)
print(json.dumps({
    "equal": back == doc, "types": [type(back.ref).__name__, type(back.more[0]).__name__, type(back.contact).__name__],
    "ref": back.ref.ref, "wire": sent["v"]["ref"], "alone": [type(alone).__name__, alone.ref],
    "via_field": [type(via_field.ref).__name__, via_field.ref.ref], "refused": refused,
    "imported": "someones_lib" in sys.modules,
}))
'''


def test_a_library_s_pydantic_model_crosses_as_its_data(pshop):
    """LNbits' ``CreateInvoice`` holds ``lnurl.LnurlWithdrawResponse``: it was refused ("only models defined
    in the monolith's own modules cross"); a library's model is data, and crosses as such."""
    got = run_in_service(pshop, "orders", LIBRARY_MODELS)
    assert got["equal"] is True and got["types"] == ["Reference", "Reference", "Contact"] and got["ref"] == "#/a"
    assert got["wire"] == {"__t__": "pydantic-data", "cls": "fastapi.openapi.models:Reference",
                           "v": {"$ref": "#/a"}, "api": "v2"}
    assert got["alone"] == ["Reference", "#/c"]
    assert got["via_field"] == ["Reference", "#/d"]
    assert "someones_lib.models:Ref" in got["refused"] and "not loaded in this service" in got["refused"]
    assert got["imported"] is False


# --------------------------------------------------------------------------- 2. two services


def test_a_pydantic_model_crosses_between_two_fastapi_services(pshop):
    running = up_local(load_manifest(pshop), port=free_port(), timeout=90)
    try:
        r = httpx.get(f"{running.url}/orders/{PEN}", timeout=20)
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["json"] == httpx.get(f"{running.url}/catalog/pen", timeout=20).json()
        assert got == {
            "product": "Product", "price": "Discounted", "colour": True, "size": True, "was": "2.00",
            "shelf": {"shelf": "A3"}, "set": ["added", "colour", "id", "name", "price", "shelf", "sizes", "tags"],
            "json": got["json"], "stock": ["Stock", "Product", ["A3", "B1"], "2026-02-01", False],
        }
        r = httpx.get(f"{running.url}/orders/{PEN}", params={"colour": "red"}, timeout=20)
        assert r.status_code == 200, r.text
        assert r.json()["out_of_stock"] == ["pen is out of stock", "Product"]  # raised in catalog, a model inside
        # a signed call naming a class outside the monolith is refused by the callee, naming it
        secret = Path(running.rpc_secret_file).read_text().strip()
        reg = json.loads((run_dir(pshop) / "local.json").read_text())
        catalog = next(f"http://127.0.0.1:{p['port']}" for p in reg["processes"] if p["name"] == "catalog")
        name = "/_rpc/pshop.catalog.service.stock_of"
        body = json.dumps({"args": [{"__t__": "dataclass", "cls": "subprocess:CompletedProcess",
                                     "v": {"args": ["id"], "returncode": 0}}], "kwargs": {}}).encode()
        r = httpx.post(catalog + name, content=body, timeout=20,
                       headers={"content-type": "application/json", **signature(secret, "POST", name, body)})
        assert r.status_code == 500 and "subprocess:CompletedProcess" in r.json()["error"]["message"], r.text
    finally:
        down_local(pshop)
