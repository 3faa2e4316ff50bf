//! The printable personal-data report (clause 7.1b: "a printable document"): [`MyData`] laid
//! out as a [`derbes_report::Report`] in the subject's language — title «Справка о
//! персональных данных» / «Дербес деректер туралы анықтама» / "Personal data report".

use crate::cabinet::{value_text, MyData};
use derbes_core::registry::Lang;
use derbes_report::{Report, Section};

/// The report's title in `lang`.
pub fn title(lang: Lang) -> &'static str {
    match lang {
        Lang::Ru => "Справка о персональных данных",
        Lang::Kk => "Дербес деректер туралы анықтама",
        Lang::En => "Personal data report",
    }
}

struct Words {
    generated: &'static str,
    subject: &'static str,
    operator: &'static str,
    values: &'static str,
    source: &'static str,
    obtained: &'static str,
    purposes: &'static str,
    destruction: &'static str,
    after_contract: &'static str,
    methods: &'static str,
    policies: &'static str,
    consents: &'static str,
    transfers: &'static str,
    no_transfers: &'static str,
    accesses: &'static str,
    requests: &'static str,
    export: &'static str,
    none: &'static str,
}

fn words(lang: Lang) -> Words {
    match lang {
        Lang::Ru => Words {
            generated: "Сформирована",
            subject: "Идентификатор субъекта",
            operator: "Оператор",
            values: "Персональные данные",
            source: "источник",
            obtained: "получено",
            purposes: "цели",
            destruction: "плановое уничтожение",
            after_contract: "после исполнения договора",
            methods: "Способы обработки",
            policies: "Принятые версии политики",
            consents: "Согласия (история)",
            transfers: "Передача третьим лицам",
            no_transfers: "Сведения о передаче пока не ведутся в реестре.",
            accesses: "Доступ к данным (роль, цель, дата)",
            requests: "Обращения",
            export: "Справка №",
            none: "нет",
        },
        Lang::Kk => Words {
            generated: "Жасалған уақыты",
            subject: "Субъект сәйкестендіргіші",
            operator: "Оператор",
            values: "Дербес деректер",
            source: "көзі",
            obtained: "алынды",
            purposes: "мақсаттары",
            destruction: "жоспарлы жою",
            after_contract: "шарт орындалғаннан кейін",
            methods: "Өңдеу тәсілдері",
            policies: "Қабылданған саясат нұсқалары",
            consents: "Келісімдер (тарихы)",
            transfers: "Үшінші тұлғаларға беру",
            no_transfers: "Беру туралы мәліметтер тізілімде әлі жүргізілмейді.",
            accesses: "Деректерге қол жеткізу (рөл, мақсат, күн)",
            requests: "Өтініштер",
            export: "Анықтама №",
            none: "жоқ",
        },
        Lang::En => Words {
            generated: "Generated",
            subject: "Subject id",
            operator: "Operator",
            values: "Personal data",
            source: "source",
            obtained: "obtained",
            purposes: "purposes",
            destruction: "planned destruction",
            after_contract: "after the contract is fulfilled",
            methods: "Processing methods",
            policies: "Policy versions accepted",
            consents: "Consents (history)",
            transfers: "Transfers to third parties",
            no_transfers: "Transfers are not yet kept in a register.",
            accesses: "Accesses to the data (role, purpose, date)",
            requests: "Requests",
            export: "Report no.",
            none: "none",
        },
    }
}

fn date(t: chrono::DateTime<chrono::Utc>) -> String {
    derbes_core::calendar::to_almaty(t)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// The report of `data` in `lang`, stamped with the export id.
pub fn subject_report(data: &MyData, lang: Lang, export_id: &str) -> Report {
    let w = words(lang);
    let mut header = vec![
        format!("{}: {} (Asia/Almaty)", w.generated, date(data.generated_at)),
        format!("{}: {}", w.subject, data.subject),
    ];
    if let Some(op) = &data.operator {
        header.push(format!("{}: {op}", w.operator));
    }
    let values = data
        .values
        .iter()
        .map(|v| {
            let source = match &v.source.name {
                Some(n) => format!("{} ({n})", v.source.kind.as_str()),
                None => v.source.kind.as_str().to_string(),
            };
            let purposes = v
                .purposes
                .iter()
                .map(|p| format!("{} [{}]", p.name, p.legal_basis))
                .collect::<Vec<_>>()
                .join("; ");
            let destruction = match v.retention.destruction_date {
                Some(d) => d.format("%Y-%m-%d").to_string(),
                None => w.after_contract.to_string(),
            };
            format!(
                "{}: {} — {}: {}, {}: {}; {}: {}; {}: {}",
                v.name,
                value_text(&v.value),
                w.source,
                source,
                w.obtained,
                date(v.obtained_at),
                w.destruction,
                destruction,
                w.purposes,
                purposes
            )
        })
        .collect();
    let or_none = |lines: Vec<String>| {
        if lines.is_empty() {
            vec![w.none.to_string()]
        } else {
            lines
        }
    };
    let sections = vec![
        Section {
            heading: w.values.to_string(),
            lines: or_none(values),
        },
        Section {
            heading: w.methods.to_string(),
            lines: data.methods.iter().map(|m| m.text.clone()).collect(),
        },
        Section {
            heading: w.policies.to_string(),
            lines: or_none(
                data.policies_accepted
                    .iter()
                    .map(|p| format!("v{} — {} ({})", p.version, date(p.at), p.lang))
                    .collect(),
            ),
        },
        Section {
            heading: w.consents.to_string(),
            lines: or_none(
                data.consents
                    .history
                    .iter()
                    .map(|c| {
                        format!(
                            "{} — {}: {} (v{})",
                            date(c.at),
                            c.scope,
                            c.decision.as_str(),
                            c.policy_version
                        )
                    })
                    .collect(),
            ),
        },
        Section {
            heading: w.transfers.to_string(),
            lines: vec![w.no_transfers.to_string()],
        },
        Section {
            heading: w.accesses.to_string(),
            lines: or_none(
                data.accesses
                    .iter()
                    .take(200)
                    .map(|a| {
                        format!(
                            "{} — {}{}: {} ({})",
                            date(a.at),
                            a.actor_kind,
                            a.role
                                .as_deref()
                                .map(|r| format!("/{r}"))
                                .unwrap_or_default(),
                            a.purpose_name.as_deref().unwrap_or("-"),
                            a.action
                        )
                    })
                    .collect(),
            ),
        },
        Section {
            heading: w.requests.to_string(),
            lines: or_none(
                data.requests
                    .iter()
                    .map(|r| {
                        format!(
                            "{} — {} — {:?} — {}",
                            r.number,
                            r.kind.as_str(),
                            r.status,
                            r.deadline_date
                        )
                    })
                    .collect(),
            ),
        },
    ];
    Report {
        title: title(lang).to_string(),
        lang: lang.as_str().to_string(),
        header,
        sections,
        footer: format!("{} {export_id}", w.export),
    }
}
