#!/usr/bin/env python3
"""Compiles config/grid-intensity.csv from the source tables vendored in data/sources/ (see its README).

Kept: Ember 2024 yearly data per country and aggregate (CC-BY-4.0, lifecycle basis), US EPA eGRID2022
subregions and national total (public domain, direct basis), Google Cloud's own 2024 per-region figures
(direct basis). Not kept: Electricity Maps figures (ODbL), OWID duplicates of Ember, the legacy ML CO2 Impact
rows. AWS and Azure regions are not rows here: config/cloud-regions.csv maps them to their grid.

Usage: scripts/compile-grid-data.py data/sources config
Writes config/grid-intensity.csv and config/cloud-regions.csv.
"""
import csv
import sys

reference = sys.argv[1] if len(sys.argv) > 1 else "data/sources"
destination = sys.argv[2] if len(sys.argv) > 2 else "config"
out = csv.writer(open(f"{destination}/grid-intensity.csv", "w"), lineterminator="\n")
out.writerow(["kind", "code", "alt_code", "name", "year", "gco2e_per_kwh", "basis", "source", "licence"])
EMBER = "Ember Yearly Electricity Data (latest year per country), via Green Web Foundation co2.js"
rows = []
for r in csv.DictReader(open(f"{reference}/country-intensity.csv")):
    if not r["source"].startswith("Ember"):
        continue
    if r["country"] == "World":
        code, alt, kind = "WORLD", "WLD", "world"
    elif r["iso2"]:
        code, alt, kind = r["iso2"], r["iso3"], "country"
    else:
        continue  # other aggregates (Africa, G20, ...) have no code
    if float(r["gco2e_per_kwh"]) <= 0:
        continue  # a lifecycle factor of 0 is impossible (hydro alone is ~24 g/kWh): a gap in the data, left out
    rows.append([kind, code, alt, r["country"], r["year"], r["gco2e_per_kwh"], "lifecycle", EMBER, "CC-BY-4.0 (Ember)"])
for r in csv.DictReader(open(f"{reference}/us-subregions.csv")):
    if r["year"] != "2022" or r["region_type"] not in ("egrid_subregion", "national") or "eGRID" not in r["source"]:
        continue
    code = r["code"] if r["region_type"] == "egrid_subregion" else "EGRID-US"
    rows.append(["egrid", code, "", r["name"], r["year"], r["gco2e_per_kwh"], "direct",
                 "US EPA eGRID2022, total output CO2e emission rate", "public domain (US EPA)"])
for r in csv.DictReader(open(f"{reference}/cloud-regions.csv")):
    if r["provider"] != "gcp" or r["year"] != "2024":
        continue
    rows.append(["cloud", f"gcp:{r['region']}", r["iso2"], r["location"], r["year"], r["gco2e_per_kwh"], "direct",
                 "Google Cloud region carbon data 2024 (grid carbon intensity)",
                 "published by Google (GoogleCloudPlatform/region-carbon-info)"])
seen = set()
for row in rows:
    key = (row[0], row[1])
    if key in seen:
        continue
    seen.add(key)
    out.writerow(row)

# AWS and Azure publish no per-region grid intensity: map each region to its grid (the country, or the eGRID
# subregion of the US state the region is in) and resolve through the rows above.
US_GRID = {
    ("aws", "us-east-1"): "SRVC", ("aws", "us-east-2"): "RFCW", ("aws", "us-west-1"): "CAMX",
    ("aws", "us-west-2"): "NWPP", ("aws", "us-gov-east-1"): "RFCW", ("aws", "us-gov-west-1"): "NWPP",
    ("azure", "eastus"): "SRVC", ("azure", "eastus2"): "SRVC", ("azure", "centralus"): "MROW",
    ("azure", "northcentralus"): "RFCW", ("azure", "southcentralus"): "ERCT", ("azure", "westus"): "CAMX",
    ("azure", "westus2"): "NWPP", ("azure", "westus3"): "AZNM", ("azure", "westcentralus"): "RMPA",
}
countries = {row[1] for row in rows if row[0] == "country"}
mapping = csv.writer(open(f"{destination}/cloud-regions.csv", "w"), lineterminator="\n")
mapping.writerow(["provider", "region", "location", "grid", "note"])
done = set()
for r in csv.DictReader(open(f"{reference}/cloud-regions.csv")):
    provider, region = r["provider"], r["region"]
    if provider not in ("aws", "azure") or (provider, region) in done or not r["iso2"]:
        continue
    done.add((provider, region))
    if r["iso2"] == "US":
        grid = US_GRID.get((provider, region), "EGRID-US")
        note = "eGRID subregion of the region's state" if grid != "EGRID-US" else "US state unknown: eGRID national"
    elif r["iso2"] in countries:
        grid, note = r["iso2"], "country grid"
    else:
        continue
    mapping.writerow([provider, region, r["location"], grid, note])
