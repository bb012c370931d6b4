/* Generated from proto/forecast/v1 by scripts/gen-contracts.js; do not edit. */
/* eslint-disable */

/**
 * Demand forecast for one model over the next horizon.
 */
export interface ForecastPublished {
  forecastId: string;
  model: string;
  issuedAt: string;
  stepSeconds: number;
  /**
   * Chosen model, e.g. holt-winters-double
   */
  method: string;
  fallbackReason?: string | null;
  backtestSmape?: number | null;
  points: {
    at: string;
    requestRate: number;
    /**
     * Upper quantile (p90 by default)
     */
    upper: number;
  }[];
}
