// `?book=1` on an offer's page (the chat cards' Book Now, an answer's Book link): the booking form opens prefilled
// on arrival, with `&hours=N` for the hours asked in the chat; closing it drops both parameters (a replace, not a
// new history entry) so a reload or the back button does not reopen it.

export const BOOK_PARAM = "book";
export const HOURS_PARAM = "hours";
export const MAX_HOURS = 720; // the form's and POST /bookings' bound

/** Whether the URL asks for the booking form. */
export function wantsBookingForm(params: URLSearchParams): boolean {
  return params.get(BOOK_PARAM) === "1";
}

/** The same parameters without the request for the form (the others, in order, untouched). */
export function withoutBookingForm(params: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams(params);
  out.delete(BOOK_PARAM);
  out.delete(HOURS_PARAM);
  return out;
}

/** The hours asked for, when they are a whole number the form takes; null otherwise (the form's default). */
export function requestedHours(params: URLSearchParams): number | null {
  const given = params.get(HOURS_PARAM) ?? "";
  if (!/^[0-9]{1,4}$/.test(given)) return null;
  const hours = Number(given);
  return hours >= 1 && hours <= MAX_HOURS ? hours : null;
}
