// The API's shapes (functions/api_get_openapi/openapi.json), the fields the app reads.

export interface Offer {
  offer_id: string;
  provider: string;
  instance_type: string;
  gpu_model: string;
  gpu_vendor: string;
  gpu_count: number;
  gpu_memory_gb: number;
  vcpus: number | null;
  ram_gb: number | null;
  region: string;
  price_per_hour: number;
  price_per_gpu_hour: number;
  spot_price_per_hour: number | null;
  available: boolean;
  stale: boolean;
  compliance: string[];
  form_factor: string | null;
  as_of: string;
  source: string;
}

export interface OfferPage {
  items: Offer[];
  count: number;
  next_cursor: string | null;
  snapshot_version: string;
  stale: boolean;
}

export interface PriceBin {
  min: number;
  max: number | null;
  offers: number;
}

export interface ProviderShare {
  provider: string;
  offers: number;
  offer_share_pct: number;
  gpu_share_pct: number;
}

export interface DailyPrice {
  date: string;
  median_price_per_gpu_hour: number;
  points: number;
  providers: number;
}

export interface MarketTrend {
  days: DailyPrice[];
  change_pct: number;
  direction: string;
  basis: string;
  from: string;
  to: string;
}

export interface GpuMarket {
  gpu_model: string;
  offers: number;
  gpus: number;
  avg_price_per_gpu_hour: number;
  median_price_per_gpu_hour: number;
  best_price_per_gpu_hour: number;
  savings_potential_pct: number;
}

export interface MarketSummary {
  active_providers: string[];
  available_offers: Record<string, number>;
  avg_price_per_gpu_hour: number | null;
  by_gpu: GpuMarket[];
  gpus_in_live_offers: Record<string, number>;
  live_offers: number;
  price_histogram: PriceBin[];
  provider_share: ProviderShare[];
  snapshot_version: string;
  stale: boolean;
  /** per GPU model */
  trend_7d: Record<string, MarketTrend>;
}

export interface PresetItem {
  offer_id: string;
  provider: string;
  gpu_model: string;
  gpu_count: number;
  price_per_hour: number;
  price_per_gpu_hour: number;
  market_median_per_gpu_hour: number;
  price_vs_median_pct: number;
  savings_pct: number;
  confidence: number;
  score: number;
  comparable_offers: number;
}

export interface Preset {
  name: string;
  description: string;
  promise: string;
  count: number;
  top_offer: PresetItem | null;
}

export interface Provider {
  name: string;
  display_name?: string;
  offers?: number;
  available_offers?: number;
}

/** A live-price message (the WebSocket protocol: README "Live prices over WebSocket"): subscribed, snapshot,
 * price, removed, resync, pong, error, booking... A frame is one message or a ``batch`` of them. */
export interface LiveMessage {
  type: string;
  seq?: number;
  offer_id?: string;
  old_price?: number | null;
  new_price?: number;
  ts?: string;
  [key: string]: unknown;
}

/** Integer minor units (cents for usd) and a lower-case ISO 4217 code. */
export interface Money {
  amount: number;
  currency: string;
}

export type BookingStatus = "pending" | "price_locked" | "reserved" | "awaiting_payment" | "charged" | "confirmed"
  | "failed" | "cancelled" | "needs_attention";

export interface Booking {
  booking_id: string;
  offer_id: string;
  provider: string;
  gpu_model: string;
  gpu_count: number;
  hours: number;
  status: BookingStatus;
  amount: Money | null;
  price_per_hour: Money | null;
  refunded: Money | null;
  checkout_url: string | null;
  reason: string | null;
  created_at: string;
  updated_at: string;
  confirmed_at: string | null;
  cancelled_at: string | null;
}

export interface BookingPage {
  items: Booking[];
  next_cursor: string | null;
}

export interface UsageReport {
  plan: string;
  period_start: string;
  period_end: string;
  totals: { currency: string; gpu_hours: number; amount: Money; refunded: Money; net: Money }[];
  bookings: unknown[];
}

export interface AuditEntry {
  seq: number;
  shard: number;
  ts: string;
  actor: string;
  action: string;
  resource: string;
  outcome: string;
  request_id: string;
  hash: string;
  prev_hash: string;
}

export interface AuditPage {
  items: AuditEntry[];
  next_cursor: string | null;
  /** entries read to answer (a filtered page can be short, even empty, with a next_cursor) */
  scanned?: number;
}

export interface AuditShardReport {
  shard: number;
  ok: boolean;
  size: number;
  checkpoint_size: number | null;
  first_broken_seq: number | null;
  reason: string | null;
  verified_from: number;
  verified_through: number | null;
  published: boolean | null;
}

export interface AuditVerifyReport {
  ok: boolean;
  shards: AuditShardReport[];
  first_broken_seq: number | null;
  first_broken_shard: number | null;
  mode: "incremental" | "genesis";
  complete: boolean;
  next_cursor: string | null;
  entries_read: number;
}
