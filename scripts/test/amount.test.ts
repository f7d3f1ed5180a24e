import { expect } from "chai";
import { AmountError, formatMinor, parseAmount } from "../lib/amount.js";

describe("parseAmount", () => {
  it("turns 10.00 USD into 1000 cents", () => {
    expect(parseAmount("10.00", "USD")).to.equal(1000n);
  });

  it("pads missing decimals: 10.5 USD is 1050 cents and 10 USD is 1000", () => {
    expect(parseAmount("10.5", "USD")).to.equal(1050n);
    expect(parseAmount("10", "USD")).to.equal(1000n);
  });

  it("treats 1 JPY as 1 minor unit, since the yen has no decimals", () => {
    expect(parseAmount("1", "JPY")).to.equal(1n);
  });

  it("refuses more decimals than the currency has", () => {
    expect(() => parseAmount("0.001", "USD")).to.throw(AmountError, /2 decimal places/);
    expect(() => parseAmount("1.5", "JPY")).to.throw(AmountError, /no minor units/);
  });

  it("refuses text that is not a plain positive decimal", () => {
    for (const text of ["abc", "", "-1", "1e3", "1,00", ".5", "1.", "0", "0.00"]) {
      expect(() => parseAmount(text, "USD"), text).to.throw(AmountError);
    }
  });

  it("keeps amounts beyond the float range exact", () => {
    expect(parseAmount("90071992547409.93", "USD")).to.equal(9007199254740993n);
  });

  it("refuses a currency code that is not ISO 4217 shaped", () => {
    expect(() => parseAmount("1", "usd")).to.throw(AmountError, /3-letter/);
  });
});

describe("formatMinor", () => {
  it("formats minor units with the currency's decimals", () => {
    expect(formatMinor(1050n, "USD")).to.equal("10.50");
    expect(formatMinor(5n, "USD")).to.equal("0.05");
    expect(formatMinor(1n, "JPY")).to.equal("1");
    expect(formatMinor(-250n, "EUR")).to.equal("-2.50");
  });
});
