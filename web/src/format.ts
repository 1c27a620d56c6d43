const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 4 });
const usd2 = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const whole = new Intl.NumberFormat("en-US");

export const fmtUsd = (n: number | null | undefined): string => (n === null || n === undefined ? "—" : usd.format(n));
/** cents: a headline figure */
export const fmtUsd2 = (n: number | null | undefined): string => (n === null || n === undefined ? "—" : usd2.format(n));
export const fmtInt = (n: number): string => whole.format(n);
export const fmtPct = (n: number, digits = 1): string => `${n.toFixed(digits)} %`;
export const fmtNum = (n: number | null | undefined, unit = ""): string =>
  n === null || n === undefined ? "—" : `${whole.format(n)}${unit}`;

/** An API amount (integer minor units) as currency. */
export const fmtMoney = (m: { amount: number; currency: string } | null | undefined): string =>
  m ? new Intl.NumberFormat("en-US", { style: "currency", currency: m.currency.toUpperCase() }).format(m.amount / 100) : "—";
