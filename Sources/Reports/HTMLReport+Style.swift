extension HTMLReport {
    /// The page's style sheet: light and dark, no font or image to load.
    static let style = HTML.trusted(
        """
        :root{color-scheme:light dark;--bg:#fff;--fg:#1d2330;--muted:#5b6472;--card:#f3f5f8;--grid:#d9dde3;\
        --phase0:rgba(120,130,150,.10);--phase1:rgba(120,130,150,.20);--accent:#2f6db5;--warn:#9a5a00}
        @media (prefers-color-scheme:dark){:root{--bg:#14171c;--fg:#e6e9ee;--muted:#9aa3b0;--card:#1f242c;\
        --grid:#343b46;--phase0:rgba(200,210,230,.06);--phase1:rgba(200,210,230,.13);--accent:#7fb0ef;--warn:#f0b060}}
        body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",\
        Roboto,"Noto Sans",sans-serif}
        main{max-width:1040px;margin:0 auto;padding:24px}
        h1{font-size:1.35rem;margin:0 0 4px;word-break:break-all}h2{font-size:1.1rem;margin:28px 0 8px}
        .facts,footer,small,figcaption{color:var(--muted)}footer{margin-top:32px;font-size:.85rem}
        .label{background:var(--card);padding:0 6px;border-radius:4px}
        .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin-top:16px}
        .card{background:var(--card);border-radius:8px;padding:10px 12px;display:flex;flex-direction:column}
        .card-label{font-size:.8rem;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
        .card-value{font-size:1.35rem;font-weight:600}.card-detail{font-size:.8rem;color:var(--muted)}
        svg{width:100%;height:auto;display:block}figure{margin:0}
        .grid{stroke:var(--grid);stroke-width:1}.axis{fill:var(--muted);font-size:11px}
        .axis-title{fill:var(--muted);font-size:12px}
        .counted{stroke:none;opacity:.9}.beside{fill:none;stroke-width:1.6;stroke-dasharray:5 3}
        .extremes{stroke:var(--fg);stroke-width:1;opacity:.45}
        .phase-0{fill:var(--phase0)}.phase-1{fill:var(--phase1)}.phase-label{fill:var(--muted);font-size:11px}
        .nested-phase{fill:var(--accent);opacity:.6}.event{stroke:var(--warn);stroke-dasharray:3 3}
        .legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:6px 18px;font-size:.85rem}
        .swatch{display:inline-block;width:14px;height:10px;margin-right:6px;border-radius:2px;vertical-align:middle}
        .swatch.dashed{border-top:2px dashed;height:0;border-radius:0}
        .swatch.whisker{width:2px;height:12px;background:var(--fg);opacity:.45}
        .swatch.phase-swatch{background:var(--phase1)}
        table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:4px 8px;\
        border-bottom:1px solid var(--grid);vertical-align:top}thead th{color:var(--muted);font-weight:600}
        tr.beside td{color:var(--muted)}.warnings li{color:var(--warn)}code{font-size:.85em}
        .pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:16px}
        .bar{fill:var(--accent)}.bar-value,.point-label{fill:var(--fg);font-size:11px}
        .point{fill:var(--muted)}.point.pareto{fill:var(--accent);stroke:var(--fg);stroke-width:1}
        .front{fill:none;stroke:var(--accent);stroke-width:1.5}
        details{margin-top:8px}summary{cursor:pointer;color:var(--muted)}
        .ci{stroke:var(--fg);stroke-width:1.5;fill:none;opacity:.7}.mean{fill:var(--fg)}
        .half{max-width:640px}.run{fill:var(--accent);opacity:.6}.run.warmup{fill:none;stroke:var(--muted);stroke-width:1.2}
        """)
}
