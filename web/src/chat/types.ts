// POST /ai/chat's request and answer (ChatRequest, ChatAnswer, Card in the OpenAPI document).

export interface ChatCard {
  rank: number;
  offer_id: string;
  provider: string;
  gpu: string;
  count: number;
  price_per_hour: number;
  score: number | null;
  explanation: string;
  booking_link: string;
  region?: string;
}

export interface ChatAnswer {
  text: string;
  cards?: ChatCard[];
  follow_up?: string[];
  engine?: "rules" | "bedrock" | "openai";
  intent?: string;
  conversation_id: string;
  persisted: boolean;
}

export interface ChatMessage {
  id: number;
  role: "user" | "assistant";
  text: string;
  cards?: ChatCard[];
  followUp?: string[];
  engine?: string;
}
